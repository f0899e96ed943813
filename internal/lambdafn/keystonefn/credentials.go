package keystonefn

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"karbor/internal/keystone"
)

// LoadCredentials reads the credentials from arn: a Secrets Manager secret
// (arn:...:secretsmanager:...:secret:...) or an SSM Parameter Store
// parameter (arn:...:ssm:...:parameter/..., a SecureString, decrypted).
// endpoint, when set, replaces AWS's (local only: moto_server).
func LoadCredentials(ctx context.Context, cfg aws.Config, arn, endpoint string) (keystone.Credentials, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return keystone.Credentials{}, fmt.Errorf("KEYSTONE_CREDENTIALS_ARN %q is not an ARN", arn)
	}
	var raw string
	switch service := parts[2]; {
	case service == "secretsmanager" && strings.HasPrefix(parts[5], "secret:"):
		client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			return keystone.Credentials{}, fmt.Errorf("reading the Keystone credentials from Secrets Manager: %w", err)
		}
		raw = aws.ToString(out.SecretString)
	case service == "ssm" && strings.HasPrefix(parts[5], "parameter/"):
		client := ssm.NewFromConfig(cfg, func(o *ssm.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		// GetParameter takes the parameter's ARN as its name.
		out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(arn), WithDecryption: aws.Bool(true)})
		if err != nil {
			return keystone.Credentials{}, fmt.Errorf("reading the Keystone credentials from SSM Parameter Store: %w", err)
		}
		if out.Parameter != nil {
			raw = aws.ToString(out.Parameter.Value)
		}
	default:
		return keystone.Credentials{}, fmt.Errorf("KEYSTONE_CREDENTIALS_ARN %q is neither a Secrets Manager secret nor an SSM parameter", arn)
	}
	return keystone.ParseCredentials([]byte(raw))
}
