// Package awscfg builds the AWS SDK configuration with the SDK's full
// chain (environment, shared files, SSO, roles), for local tools and tests.
// Lambda functions use package lambdaenv, which reads the environment only
// and does not link that chain.
package awscfg

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"karbor/internal/awscfg/lambdaenv"
)

// DefaultRegion is used when neither AWS_REGION nor AWS_DEFAULT_REGION is set.
const DefaultRegion = lambdaenv.DefaultRegion

// Load reads the standard AWS configuration (environment, shared files, the
// Lambda role). With local set and no credentials in the environment, it
// uses static dummy credentials, which local endpoints accept.
func Load(ctx context.Context, local bool) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(DefaultRegion))
	}
	if local && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// DynamoDB returns a DynamoDB client; a non-empty endpoint (DYNAMODB_ENDPOINT:
// moto_server, DynamoDB Local) replaces AWS's.
func DynamoDB(cfg aws.Config, endpoint string) *dynamodb.Client {
	return lambdaenv.DynamoDB(cfg, endpoint)
}
