package lambdaenv_test

import (
	"fmt"
	"testing"

	"karbor/internal/awscfg"
	"karbor/internal/awscfg/lambdaenv"
)

// TestLikeTheFullChain checks that the environment's configuration is what
// the SDK's full chain makes of the same environment: region, credentials,
// retryer.
func TestLikeTheFullChain(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-3")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_SESSION_TOKEN", "TOKEN")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	lean, err := lambdaenv.Load()
	if err != nil {
		t.Fatal(err)
	}
	full, err := awscfg.Load(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if lean.Region != full.Region {
		t.Errorf("region %q, the full chain says %q", lean.Region, full.Region)
	}
	lc, err := lean.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fc, _ := full.Credentials.Retrieve(t.Context())
	if lc.AccessKeyID != fc.AccessKeyID || lc.SecretAccessKey != fc.SecretAccessKey || lc.SessionToken != fc.SessionToken {
		t.Errorf("credentials %+v, the full chain says %+v", lc, fc)
	}
	lo, fo := lambdaenv.DynamoDB(lean, "").Options(), awscfg.DynamoDB(full, "").Options()
	if l, f := lo.Retryer.MaxAttempts(), fo.Retryer.MaxAttempts(); l != f {
		t.Errorf("a client's retryer makes %d attempts, the full chain's %d", l, f)
	}
	if fmt.Sprintf("%T", lo.HTTPClient) != fmt.Sprintf("%T", fo.HTTPClient) || fmt.Sprintf("%T", lo.Retryer) != fmt.Sprintf("%T", fo.Retryer) {
		t.Errorf("a client's HTTP client and retryer are %T, %T; the full chain's %T, %T", lo.HTTPClient, lo.Retryer, fo.HTTPClient, fo.Retryer)
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, err := lambdaenv.Load(); err == nil {
		t.Error("no error without credentials")
	}
}
