package worker

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"karbor/internal/awscfg"
	"karbor/internal/provider/awsplugin"
)

// AWSClients builds the plugins' AWS clients on first use, once per process:
// a worker that only ever sees No-Op checkpoints builds none.
type AWSClients struct {
	Config aws.Config
	// DynamoDBEndpoint and EC2Endpoint replace AWS's endpoints when set.
	DynamoDBEndpoint, EC2Endpoint string

	ddbOnce, ec2Once sync.Once
	ddb              awsplugin.DynamoDBBackupAPI
	ec2              awsplugin.EC2SnapshotAPI
}

var _ awsplugin.Clients = (*AWSClients)(nil)

// DynamoDB implements awsplugin.Clients.
func (c *AWSClients) DynamoDB() awsplugin.DynamoDBBackupAPI {
	c.ddbOnce.Do(func() { c.ddb = awscfg.DynamoDB(c.Config, c.DynamoDBEndpoint) })
	return c.ddb
}

// EC2 implements awsplugin.Clients.
func (c *AWSClients) EC2() awsplugin.EC2SnapshotAPI {
	c.ec2Once.Do(func() {
		c.ec2 = ec2.NewFromConfig(c.Config, func(o *ec2.Options) {
			if c.EC2Endpoint != "" {
				o.BaseEndpoint = aws.String(c.EC2Endpoint)
			}
		})
	})
	return c.ec2
}
