package keystonefn

// The handler's own logic (package-internal): the credentials read again
// at most once per CredentialsRetry, and one deadline for the whole
// invocation. The reads are real (moto's SSM); the clock is a test clock.

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"karbor/internal/awscfg"
	"karbor/internal/domain"
	"karbor/internal/keystone"
	"karbor/internal/testsupport/fakekeystone"
	"karbor/internal/testsupport/testenv"
)

const (
	sampleToken = "gAAAAABk-sample-project-member-token" // events/keystone-authorizer.json's
	sampleUser  = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
)

func sampleRequest(t *testing.T) events.APIGatewayV2CustomAuthorizerV2Request {
	t.Helper()
	b, err := os.ReadFile("../../../events/keystone-authorizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// ssmCredentials returns the ARN of an SSM parameter not made yet, and a
// func that makes it with the fake Keystone's service credentials.
func ssmCredentials(t *testing.T) (arn string, create func()) {
	t.Helper()
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(testenv.Endpoint(t)) })
	name := "/karbor/ks-" + domain.NewID()
	value, _ := json.Marshal(map[string]string{"username": fakekeystone.ServiceUser, "password": fakekeystone.ServicePassword, "project_name": fakekeystone.ServiceProject})
	return "arn:aws:ssm:" + cfg.Region + ":123456789012:parameter" + name, func() {
		if _, err := client.PutParameter(t.Context(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(string(value)),
			Type: ssmtypes.ParameterTypeSecureString}); err != nil {
			t.Fatal(err)
		}
	}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCredentialsRetriedEvery30s: credentials that could not be read at
// init are read again at most once per CredentialsRetry; the requests
// between get the 503 at once.
func TestCredentialsRetriedEvery30s(t *testing.T) {
	ks := fakekeystone.Start(t)
	ks.Add(sampleToken, fakekeystone.Token{UserID: sampleUser, ProjectID: "e486a2f49695423ca9c47e589b948108", Roles: []string{"member"}, ExpiresAt: time.Now().Add(time.Hour)})
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	arn, create := ssmCredentials(t)
	clock := &testClock{t: time.Now()}
	reads := 0
	h := &handler{log: slog.New(slog.DiscardHandler), url: ks.URL, cache: &keystone.Cache{TTL: time.Minute}, now: clock.Now,
		load: func(ctx context.Context) (keystone.Credentials, error) {
			reads++
			return LoadCredentials(ctx, cfg, arn, testenv.Endpoint(t))
		}}
	invoke := func(t *testing.T, wantStatus string, wantReads int) {
		t.Helper()
		resp, err := h.handle(t.Context(), sampleRequest(t))
		if err != nil || !resp.IsAuthorized {
			t.Fatalf("%+v, %v: want isAuthorized and no error", resp, err)
		}
		if got, _ := resp.Context[keystone.CtxErrorStatus].(string); got != wantStatus {
			t.Errorf("error_status %q, want %q (context %v)", got, wantStatus, resp.Context)
		}
		if reads != wantReads {
			t.Errorf("%d reads of the credentials, want %d", reads, wantReads)
		}
	}
	if h.init(t.Context()) {
		t.Fatal("init read credentials that do not exist yet")
	}
	invoke(t, "503", 1) // at once: the read at init failed 0 s ago
	create()
	clock.Advance(29 * time.Second)
	invoke(t, "503", 1)
	clock.Advance(time.Second)
	invoke(t, "", 2) // read again 30 s after the failed one: the identity
	clock.Advance(time.Hour)
	invoke(t, "", 2) // read once for all
}

// deadlineValidator is a *keystone.Client that notes its context's
// deadline.
type deadlineValidator struct {
	*keystone.Client
	deadline *time.Time
}

func (v deadlineValidator) Validate(ctx context.Context, token string) (keystone.Identity, error) {
	*v.deadline, _ = ctx.Deadline()
	return v.Client.Validate(ctx, token)
}

// TestOneDeadlinePerInvocation: the read of the credentials and the
// validation share one deadline, keystone.Budget from the invocation's
// start, even when Lambda's own deadline is later.
func TestOneDeadlinePerInvocation(t *testing.T) {
	ks := fakekeystone.Start(t)
	ks.Add(sampleToken, fakekeystone.Token{UserID: sampleUser, ProjectID: "e486a2f49695423ca9c47e589b948108", Roles: []string{"member"}, ExpiresAt: time.Now().Add(time.Hour)})
	cfg, err := awscfg.Load(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	arn, create := ssmCredentials(t)
	create()
	var readDeadline, validateDeadline time.Time
	h := &handler{log: slog.New(slog.DiscardHandler), url: ks.URL, cache: &keystone.Cache{TTL: time.Minute},
		load: func(ctx context.Context) (keystone.Credentials, error) {
			readDeadline, _ = ctx.Deadline()
			return LoadCredentials(ctx, cfg, arn, testenv.Endpoint(t))
		},
		client: func(c keystone.Credentials) keystone.Validator {
			return deadlineValidator{&keystone.Client{URL: ks.URL, Credentials: c}, &validateDeadline}
		}}
	// Lambda's deadline: the function's timeout (10 s), later than the
	// budget.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	lambdaDeadline, _ := ctx.Deadline()
	resp, err := h.handle(ctx, sampleRequest(t))
	end := time.Now()
	if err != nil || resp.Context[keystone.CtxUserID] != sampleUser {
		t.Fatalf("%+v, %v: want the sample user", resp, err)
	}
	if readDeadline.IsZero() || !readDeadline.Before(lambdaDeadline) || readDeadline.After(end.Add(keystone.Budget)) {
		t.Errorf("the read's deadline is %v, want keystone.Budget (%v) from the invocation's start, before Lambda's %v", readDeadline, keystone.Budget, lambdaDeadline)
	}
	if validateDeadline.IsZero() || validateDeadline.After(readDeadline) {
		t.Errorf("the validation's deadline %v is not the invocation's (%v): the read and the validation would each have a budget", validateDeadline, readDeadline)
	}
}
