package keystonefn_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/keystone"
	"karbor/internal/lambdafn/keystonefn"
	"karbor/internal/testsupport/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestLoadCredentials reads both kinds of store on moto: a Secrets Manager
// secret and an SSM SecureString, each by its ARN.
func TestLoadCredentials(t *testing.T) {
	endpoint := testenv.Endpoint(t)
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	password := `{"username": "karbor", "password": "pw", "project_name": "service", "user_domain_name": "Users"}`
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(endpoint) })
	secret, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("karbor/ks-" + domain.NewID()), SecretString: aws.String(password)})
	if err != nil {
		t.Fatal(err)
	}
	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(endpoint) })
	name := "/karbor/ks-" + domain.NewID()
	if _, err := client.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Type: ssmtypes.ParameterTypeSecureString,
		Value: aws.String(`{"application_credential_id": "id1", "application_credential_secret": "s1"}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := keystonefn.LoadCredentials(t.Context(), cfg, aws.ToString(secret.ARN), endpoint)
	if want := (keystone.Credentials{Username: "karbor", Password: "pw", ProjectName: "service", UserDomainName: "Users", ProjectDomainName: "Default"}); err != nil || got != want {
		t.Errorf("secret: %#v, %v", got.Username+"/"+got.UserDomainName+"/"+got.ProjectDomainName, err)
	}
	got, err = keystonefn.LoadCredentials(t.Context(), cfg, "arn:aws:ssm:"+cfg.Region+":123456789012:parameter"+name, endpoint)
	if err != nil || got.ApplicationCredentialID != "id1" || got.ApplicationCredentialSecret != "s1" {
		t.Errorf("parameter: %q, %v", got.ApplicationCredentialID, err)
	}
	for _, arn := range []string{"", "karbor/keystone", "arn:aws:s3:::bucket/key", "arn:aws:ssm:us-east-1:123456789012:document/x",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"} {
		if _, err := keystonefn.LoadCredentials(t.Context(), cfg, arn, endpoint); err == nil {
			t.Errorf("%q: read", arn)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("KEYSTONE_URL", "https://keystone.example.com:5000/v3/")
	t.Setenv("KEYSTONE_CREDENTIALS_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:karbor-AbCdEf")
	t.Setenv("KEYSTONE_CACHE_SECONDS", "")
	c, err := keystonefn.ConfigFromEnv()
	if err != nil || c.URL != "https://keystone.example.com:5000" || c.CacheTTL != 300*time.Second {
		t.Errorf("%+v, %v; want the URL without /v3 and the 300 s default", c, err)
	}
	t.Setenv("KEYSTONE_CACHE_SECONDS", "0")
	if c, err := keystonefn.ConfigFromEnv(); err != nil || c.CacheTTL != 0 {
		t.Errorf("KEYSTONE_CACHE_SECONDS=0: %+v, %v", c, err)
	}
	for name, value := range map[string]string{"KEYSTONE_URL": "keystone.example.com", "KEYSTONE_CREDENTIALS_ARN": "", "KEYSTONE_CACHE_SECONDS": "-1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := keystonefn.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: error %v, want one naming it", name, value, err)
			}
		})
	}
}
