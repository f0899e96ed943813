package worker

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/aws/smithy-go/middleware"

	"karbor/internal/provider/awsplugin"
)

// AWSClients builds the plugins' AWS clients on first use, once per process:
// a worker that only ever sees No-Op checkpoints builds none. Their retryer
// is the SDK's adaptive mode with RetryMaxAttempts attempts: a throttled
// call (ListBackups is limited to 5 calls/s, DeleteBackup to 10/s; EC2
// throttles mutating calls per account) is retried alone, with the SDK's
// throttling backoff, and the client then slows its own rate, instead of
// the call failing the record and Lambda redoing the whole checkpoint.
type AWSClients struct {
	Config aws.Config
	// DynamoDBEndpoint and EC2Endpoint replace AWS's endpoints when set.
	DynamoDBEndpoint, EC2Endpoint string
	// APIOptions are added to both clients' (a test's counting middleware).
	APIOptions []func(*middleware.Stack) error
	// ImageSnapshotTagsAfter is for an EC2 endpoint that cannot tag an
	// image's snapshots in CreateImage (moto): see
	// awsplugin.Clients.TagImageSnapshotsAfter. Set by the local server and
	// tests, and by EC2_TAG_IMAGE_SNAPSHOTS_AFTER=1; never on AWS, whose
	// worker role does not grant the CreateTags it needs.
	ImageSnapshotTagsAfter bool

	ddbOnce, ec2Once sync.Once
	ddb              awsplugin.DynamoDBBackupAPI
	ec2              awsplugin.EC2SnapshotAPI
}

// RetryMaxAttempts is how many times the plugins' clients try a call (the
// SDK's default is 3 or 4).
const RetryMaxAttempts = 8

var _ awsplugin.Clients = (*AWSClients)(nil)

// DynamoDB implements awsplugin.Clients.
func (c *AWSClients) DynamoDB() awsplugin.DynamoDBBackupAPI {
	c.ddbOnce.Do(func() {
		c.ddb = dynamodb.NewFromConfig(c.Config, func(o *dynamodb.Options) {
			if c.DynamoDBEndpoint != "" {
				o.BaseEndpoint = aws.String(c.DynamoDBEndpoint)
			}
			o.RetryMode, o.RetryMaxAttempts = aws.RetryModeAdaptive, RetryMaxAttempts
			o.APIOptions = append(o.APIOptions, c.APIOptions...)
		})
	})
	return c.ddb
}

// TagImageSnapshotsAfter implements awsplugin.Clients.
func (c *AWSClients) TagImageSnapshotsAfter() bool { return c.ImageSnapshotTagsAfter }

// EC2 implements awsplugin.Clients.
func (c *AWSClients) EC2() awsplugin.EC2SnapshotAPI {
	c.ec2Once.Do(func() {
		c.ec2 = ec2.NewFromConfig(c.Config, func(o *ec2.Options) {
			if c.EC2Endpoint != "" {
				o.BaseEndpoint = aws.String(c.EC2Endpoint)
			}
			o.RetryMode, o.RetryMaxAttempts = aws.RetryModeAdaptive, RetryMaxAttempts
			o.APIOptions = append(o.APIOptions, c.APIOptions...)
		})
	})
	return c.ec2
}
