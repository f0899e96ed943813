// Package lambdaenv builds the AWS SDK configuration of a Lambda function
// from its environment alone: Lambda gives the region (AWS_REGION) and the
// execution role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) there. It does not link the SDK's config package,
// whose full credential chain (shared files, SSO, STS, sign-in, IMDS) a
// function never uses and whose code cost a route function about a sixth
// of its binary and part of its cold start. The retryer and HTTP client are
// the SDK's defaults, as with config.LoadDefaultConfig. Local tools
// and tests use package awscfg (the full chain).
package lambdaenv

import (
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/logging"
)

// DefaultRegion is used when neither AWS_REGION nor AWS_DEFAULT_REGION is set.
const DefaultRegion = "us-east-1"

// Load reads the configuration from the environment. It fails when the
// credentials are not there (outside Lambda, use package awscfg).
func Load() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = DefaultRegion
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the execution role)")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		// No Retryer and HTTPClient: as with config.LoadDefaultConfig, each
		// client then takes the SDK's standard retryer and buildable HTTP
		// client.
		Logger: logging.NewStandardLogger(os.Stderr),
	}, nil
}

// DynamoDB returns a DynamoDB client; a non-empty endpoint (DYNAMODB_ENDPOINT:
// moto_server, DynamoDB Local) replaces AWS's.
func DynamoDB(cfg aws.Config, endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}
