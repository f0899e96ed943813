package provider

import "encoding/json"

// AWSID is the AWS provider, which protects AWS resources with their own
// backup services. Its plugins are in package awsplugin, which only the
// worker links: the route functions need the provider's schemas, not the
// EC2 and backup SDK code.
const AWSID = "f346b852-eecc-48cc-9587-123b37c1f072"

// Resource types of the AWS provider (CloudFormation's names).
const (
	TypeDynamoDBTable = "AWS::DynamoDB::Table"
	TypeEC2Volume     = "AWS::EC2::Volume"
	TypeEC2Instance   = "AWS::EC2::Instance"
)

// Tags the AWS provider puts on what it produces, to find it again.
const (
	TagCheckpointID = "karbor:checkpoint-id"
	TagResourceID   = "karbor:resource-id"
	// TagProjectID is the ownership tag's default key; the deployment's
	// key is ownership.Config.TagKey.
	TagProjectID = "karbor:project-id"
)

// AWSResources reports the AWS provider (domain.AWSProvider): its
// restores take the AWS types' properties, its verifications a restore
// test.
func (p *Provider) AWSResources() bool { return p.ID == AWSID }

var awsProvider = &Provider{
	ID:          AWSID,
	Name:        "AWS Provider",
	Description: "Protects AWS resources with their own services: DynamoDB tables with on-demand backups, EBS volumes with snapshots, EC2 instances with an AMI that captures every attached volume (no reboot unless the plan allows it). Only resources the project owns are protected.",
	Schema: Schema{
		Options: map[string]json.RawMessage{
			TypeDynamoDBTable: json.RawMessage(`{
				"title": "DynamoDB Table Protection Options", "type": "object",
				"properties": {
					"backup_name_prefix": {"title": "Backup Name Prefix", "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$", "default": "karbor",
						"description": "The backup is named <prefix>-<checkpoint id>."}
				},
				"additionalProperties": false}`),
			TypeEC2Volume: json.RawMessage(`{
				"title": "EBS Volume Protection Options", "type": "object",
				"properties": {
					"description": {"title": "Description", "type": "string", "maxLength": 255, "description": "The snapshot's description."},
					"tags": {"title": "Tags", "type": "object", "maxProperties": 40, "additionalProperties": {"type": "string", "maxLength": 256},
						"description": "More tags for the snapshot. Keys beginning with aws:, karbor: or a reserved prefix are refused."}
				},
				"additionalProperties": false}`),
			TypeEC2Instance: json.RawMessage(`{
				"title": "EC2 Instance Protection Options", "type": "object",
				"properties": {
					"reboot": {"title": "Reboot", "type": "boolean", "default": false,
						"description": "Let EC2 reboot the instance for a file-system-consistent image; by default it is not rebooted (crash-consistent)."},
					"description": {"title": "Description", "type": "string", "maxLength": 255, "description": "The image's description."},
					"tags": {"title": "Tags", "type": "object", "maxProperties": 40, "additionalProperties": {"type": "string", "maxLength": 256},
						"description": "More tags for the image and its snapshots. Keys beginning with aws:, karbor: or a reserved prefix are refused."}
				},
				"additionalProperties": false}`),
		},
		// What a restore's parameters take (domain.checkRestoreParameters
		// checks them; integers may also be strings of digits).
		Restore: map[string]json.RawMessage{
			TypeDynamoDBTable: json.RawMessage(`{
				"title": "DynamoDB Table Restore", "type": "object",
				"properties": {
					"target_table_name": {"title": "Target Table Name", "type": "string", "pattern": "^[a-zA-Z0-9_.-]{3,255}$",
						"description": "The table to restore into; defaults to <source name cut to 246 characters>-<first 8 hex digits of the restore id>. Two tables of one restore may not share one."}
				},
				"additionalProperties": false}`),
			TypeEC2Volume: json.RawMessage(`{
				"title": "EBS Volume Restore", "type": "object",
				"properties": {
					"availability_zone": {"title": "Availability Zone", "type": "string", "description": "A zone of the service's region; defaults to the protected volume's. A volume restored with its instance takes the instance's zone."},
					"volume_type": {"title": "Volume Type", "type": "string", "enum": ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"], "description": "Defaults to the protected volume's."},
					"iops": {"title": "IOPS", "type": "integer", "minimum": 1, "description": "Defaults to the protected volume's."},
					"throughput": {"title": "Throughput (MiB/s)", "type": "integer", "minimum": 1, "description": "Defaults to the protected volume's."}
				},
				"additionalProperties": false}`),
			TypeEC2Instance: json.RawMessage(`{
				"title": "EC2 Instance Restore", "type": "object",
				"properties": {
					"instance_type": {"title": "Instance Type", "type": "string", "description": "Defaults to the protected instance's."},
					"subnet_id": {"title": "Subnet Id", "type": "string", "pattern": "^subnet-[0-9a-f]{8,17}$", "description": "Defaults to the protected instance's. In tag mode it must carry the project's tag."},
					"security_group_ids": {"title": "Security Group Ids", "type": "array", "items": {"type": "string", "pattern": "^sg-[0-9a-f]{8,17}$"}, "minItems": 1, "maxItems": 5,
						"description": "Default to the protected instance's; one id may be given as a string. In tag mode each must carry the project's tag."},
					"key_name": {"title": "Key Name", "type": "string", "description": "Defaults to the protected instance's."}
				},
				"additionalProperties": false}`),
		},
		SavedInfo: map[string]json.RawMessage{
			TypeDynamoDBTable: json.RawMessage(`{
				"title": "DynamoDB Table Saved Info", "type": "object", "required": ["backup_arn"],
				"properties": {
					"backup_arn": {"title": "Backup ARN", "type": "string"},
					"backup_name": {"title": "Backup Name", "type": "string"}
				}}`),
			TypeEC2Volume: json.RawMessage(`{
				"title": "EBS Volume Saved Info", "type": "object", "required": ["snapshot_id"],
				"properties": {
					"snapshot_id": {"title": "Snapshot Id", "type": "string"},
					"volume_id": {"title": "Volume Id", "type": "string"}
				}}`),
			TypeEC2Instance: json.RawMessage(`{
				"title": "EC2 Instance Saved Info", "type": "object", "required": ["image_id"],
				"properties": {
					"image_id": {"title": "Image Id", "type": "string"},
					"image_name": {"title": "Image Name", "type": "string"},
					"instance_type": {"title": "Instance Type", "type": "string"},
					"subnet_id": {"title": "Subnet Id", "type": "string"},
					"security_group_ids": {"title": "Security Group Ids", "type": "array", "items": {"type": "string"}},
					"availability_zone": {"title": "Availability Zone", "type": "string"},
					"key_name": {"title": "Key Name", "type": "string"},
					"block_device_mappings": {"title": "Block Device Mappings", "type": "array", "items": {"type": "object", "properties": {
						"device_name": {"type": "string"}, "volume_id": {"type": "string"}, "snapshot_id": {"type": "string"},
						"size_gib": {"type": "integer"}, "volume_type": {"type": "string"}, "delete_on_termination": {"type": "boolean"}}}}
				}}`),
		},
	},
}
