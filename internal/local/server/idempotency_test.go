package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"karbor/internal/provider"
	"karbor/internal/testsupport/testenv"
)

// TestIdempotencyKey: the local server creates the idempotency table from
// template.yaml, with its TTL, and serves the header as deployed.
func TestIdempotencyKey(t *testing.T) {
	c := start(t, "")
	out, err := testenv.DynamoDB(t).DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("karbor-idempotency")})
	if err != nil {
		t.Fatalf("the local server's idempotency table: %v", err)
	}
	if d := out.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "expires_at" || d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
		t.Errorf("TTL %+v, want enabled on expires_at", d)
	}
	body := `{"plan": {"name": "idempotent", "provider_id": "` + provider.NoOpID + `", "parameters": {},
		"resources": [{"id": "cb4ef2ff-10f5-46c9-bce4-cf7a49c65a01", "type": "OS::Nova::Server", "name": "App server"}]}}`
	post := func() (int, string) {
		req, err := http.NewRequest(http.MethodPost, c.base+"/v1/"+c.project+"/plans", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", c.token)
		req.Header.Set("Idempotency-Key", "local-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(raw)
	}
	s1, b1 := post()
	s2, b2 := post()
	if s1 != http.StatusOK || s2 != s1 || b2 != b1 {
		t.Errorf("answers %d %s and %d %s; want the same 200 twice", s1, b1, s2, b2)
	}
	if status, list := c.do(http.MethodGet, "/plans", nil); status != http.StatusOK || len(list["plans"].([]any)) != 1 {
		t.Errorf("plans: %d %v; want one", status, list)
	}
}
