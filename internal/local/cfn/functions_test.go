package cfn_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"karbor/internal/api"
	"karbor/internal/local/cfn"
)

func TestFunctionsFromTemplate(t *testing.T) {
	fns, err := parseTemplate(t).Functions()
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) == 0 {
		t.Fatal("no functions")
	}
	// The claim names are parameters (CLAIM_PROJECT and CLAIM_ROLES an
	// !If of them: TestClaimParameters).
	wantEnv := map[string]string{}
	globalRefs := map[string]string{"CLAIM_USER": "JwtUserClaim", "PLANS_TABLE": "PlansTable", "CHECKPOINTS_TABLE": "CheckpointsTable", "IDEMPOTENCY_TABLE": "IdempotencyTable", "TASKS_TABLE": "TasksTable", "OPERATION_LOGS_TABLE": "OperationLogsTable", "SCHEDULES_TABLE": "SchedulesTable", "QUOTAS_TABLE": "QuotasTable", "LOG_LEVEL": "LogLevel", "CLAIM_ROLES_SEPARATOR": "RolesClaimSeparator", "AUTH_MODE": "AuthMode",
		"ADMIN_ROLE": "AdminRoleName", "POLICY_OVERRIDES": "PolicyOverrides",
		"OWNERSHIP_MODE": "OwnershipMode", "OWNERSHIP_TAG_KEY": "OwnershipTagKey", "RESERVED_TAG_PREFIXES": "ReservedTagPrefixes"}
	// The background functions add their own parameters to Globals'
	// environment.
	background := map[string]map[string]string{
		"WorkerFunction":  {"DELETED_RETENTION": "DeletedRetention"},
		"SweeperFunction": {"STUCK_AFTER": "StuckAfter"},
		"RunnerFunction":  {"TASK_TIMEOUT": "TaskTimeout"},
		"EventsFunction":  {"EVENT_BUS_NAME": "EventBusName"},
		"KeystoneAuthorizerFunction": {"KEYSTONE_URL": "KeystoneUrl", "KEYSTONE_CREDENTIALS_ARN": "KeystoneCredentialsArn",
			"KEYSTONE_CACHE_SECONDS": "KeystoneCacheSeconds"},
	}
	byID := map[string]cfn.Function{}
	for _, f := range fns {
		byID[f.LogicalID] = f
		t.Run(f.LogicalID, func(t *testing.T) {
			if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
				t.Errorf("runtime %q, handler %q, architectures %q; want provided.al2023, bootstrap, [arm64] from Globals",
					f.Runtime, f.Handler, f.Architectures)
			}
			if f.CodeURI != "." || f.BuildMethod != "makefile" {
				t.Errorf("CodeUri %q, BuildMethod %q; want . and makefile", f.CodeURI, f.BuildMethod)
			}
			wantRefs := maps.Clone(globalRefs)
			bg := background[f.LogicalID]
			maps.Copy(wantRefs, bg)
			if !reflect.DeepEqual(f.Env, wantEnv) || !reflect.DeepEqual(f.EnvRefs, wantRefs) {
				t.Errorf("Env %v, EnvRefs %v; want %v and %v", f.Env, f.EnvRefs, wantEnv, wantRefs)
			}
			if f.LogicalID == api.NotFound.LogicalID() && (len(f.Statements) != 0 || len(f.Policies) != 0 || f.Role != "") {
				t.Errorf("policies %q, statements %+v, role %q; want none", f.Policies, f.Statements, f.Role)
			}
		})
	}
	for id := range background {
		if _, ok := byID[id]; !ok {
			t.Errorf("template.yaml has no function %s", id)
		}
	}

	sweeper := byID["SweeperFunction"]
	wantSweeper := []cfn.Statement{
		{Effect: "Allow", Actions: []string{"dynamodb:Query"}, Resources: []string{"!Sub ${CheckpointsTable.Arn}/index/by_pending"}, Refs: []string{"CheckpointsTable"}},
		{Effect: "Allow", Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, Resources: []string{"!GetAtt CheckpointsTable.Arn"}, Refs: []string{"CheckpointsTable"}},
		{Effect: "Allow", Actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, Resources: []string{"!GetAtt OperationLogsTable.Arn"}, Refs: []string{"OperationLogsTable"}},
		{Effect: "Allow", Actions: []string{"dynamodb:Query"}, Resources: []string{"!Sub ${CheckpointsTable.Arn}/index/by_plan"}, Refs: []string{"CheckpointsTable"}},
	}
	if !reflect.DeepEqual(sweeper.Statements, wantSweeper) {
		t.Errorf("SweeperFunction statements =\n%s\nwant\n%s", jsonText(sweeper.Statements), jsonText(wantSweeper))
	}
	// Resources built with !Sub of pseudo parameters only refer to nothing
	// of the template.
	worker := byID["WorkerFunction"]
	for _, st := range worker.Statements {
		if slices.Contains(st.Actions, "ec2:CreateSnapshot") && slices.Contains(st.Resources, "!Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/*") {
			want := []string{"!Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/*", "!Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"}
			if !reflect.DeepEqual(st.Resources, want) || len(st.Refs) != 0 {
				t.Errorf("WorkerFunction's CreateSnapshot statement has resources %q (refs %q), want %q (refs none)", st.Resources, st.Refs, want)
			}
		}
	}

	list := byID["ListCheckpointsFunction"]
	wantStatements := []cfn.Statement{{
		Effect:    "Allow",
		Actions:   []string{"dynamodb:GetItem", "dynamodb:Query"},
		Resources: []string{"!GetAtt CheckpointsTable.Arn"},
		Refs:      []string{"CheckpointsTable"},
	}, {
		Effect:    "Allow",
		Actions:   []string{"dynamodb:Query"},
		Resources: []string{"!Sub ${CheckpointsTable.Arn}/index/by_project", "!Sub ${CheckpointsTable.Arn}/index/by_provider", "!Sub ${CheckpointsTable.Arn}/index/by_plan", "!Sub ${CheckpointsTable.Arn}/index/by_status", "!Sub ${CheckpointsTable.Arn}/index/by_plan_all", "!Sub ${CheckpointsTable.Arn}/index/by_status_all"},
		Refs:      []string{"CheckpointsTable"},
	}}
	if !reflect.DeepEqual(list.Statements, wantStatements) {
		t.Errorf("ListCheckpointsFunction statements = %+v, want %+v", list.Statements, wantStatements)
	}

	providers := byID["ListProvidersFunction"]
	if len(providers.Statements) != 0 || len(providers.Policies) != 0 || providers.Role != "" {
		t.Errorf("ListProvidersFunction has policies %q, statements %+v, role %q; want none", providers.Policies, providers.Statements, providers.Role)
	}
}

func TestFunctionsMergeGlobalsAndReadPolicyForms(t *testing.T) {
	tpl, err := cfn.Parse([]byte(`
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    CodeUri: .
    Architectures: [arm64]
    Environment:
      Variables:
        TABLE: !Ref Table
        LEVEL: INFO
        SUBBED: !Sub "${AWS::Region}"
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: provided.al2
      CodeUri: {Bucket: b, Key: k}
      Role: !GetAtt WorkerRole.Arn
      Environment:
        Variables:
          LEVEL: !Ref Level
          TABLE: fixed
      Events:
        Stream:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}
        Get:
          Type: HttpApi
          Properties:
            ApiId: {Ref: Api}
            Method: get
            Path: /x
            Auth: {Authorizer: NONE}
        Catchall:
          Type: HttpApi
      Policies:
        - AWSLambdaBasicExecutionRole
        - !Sub "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"
        - DynamoDBReadPolicy: {TableName: !Ref Table}
        - Statement:
            Effect: Allow
            Action: dynamodb:GetItem
            Resource: {"Fn::GetAtt": [Table, Arn]}
        - Version: "2012-10-17"
          Statement:
            - Effect: Deny
              Action: [dynamodb:DeleteItem]
              Resource: "*"
            - Effect: Allow
              Action: [dynamodb:Query, dynamodb:GetItem]
              Resource:
                - !Sub ["${T}/index/*", {T: !GetAtt Other.Arn}]
  Plain:
    Type: AWS::Lambda::Function
    Properties: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 1 {
		t.Fatalf("Functions() = %d functions, want only the serverless one", len(fns))
	}
	want := cfn.Function{
		LogicalID:     "Worker",
		CodeURI:       "{Bucket: b, Key: k}",
		Handler:       "bootstrap",
		Runtime:       "provided.al2",
		Architectures: []string{"arm64"},
		Env:           map[string]string{"TABLE": "fixed"},
		EnvRefs:       map[string]string{"LEVEL": "Level"},
		Role:          "!GetAtt WorkerRole.Arn",
		Policies: []string{
			"AWSLambdaBasicExecutionRole",
			"!Sub arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess",
			"DynamoDBReadPolicy",
		},
		Statements: []cfn.Statement{
			{Effect: "Allow", Actions: []string{"dynamodb:GetItem"}, Resources: []string{"!GetAtt Table.Arn"}, Refs: []string{"Table"}},
			{Effect: "Deny", Actions: []string{"dynamodb:DeleteItem"}, Resources: []string{"*"}},
			{Effect: "Allow", Actions: []string{"dynamodb:Query", "dynamodb:GetItem"}, Resources: []string{"!Sub [${T}/index/*, {T: !GetAtt Other.Arn}]"}, Refs: []string{"Other"}},
		},
	}
	if !reflect.DeepEqual(fns[0], want) {
		t.Errorf("Functions()[0] =\n%s\nwant\n%s", jsonText(fns[0]), jsonText(want))
	}
}

func TestFunctionsErrors(t *testing.T) {
	const head = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
	tests := []struct {
		name, props, want string
	}{
		{"not action", "      Policies: [{Statement: [{Effect: Allow, NotAction: 's3:*', Resource: '*'}]}]\n", "statement uses NotAction"},
		{"not resource", "      Policies: [{Statement: [{Effect: Allow, Action: 's3:*', NotResource: '*'}]}]\n", "statement uses NotResource"},
		{"no effect", "      Policies: [{Statement: [{Action: 's3:*', Resource: '*'}]}]\n", "no Effect"},
		{"no action", "      Policies: [{Statement: [{Effect: Allow, Resource: '*'}]}]\n", "statement has no Action"},
		{"no resource", "      Policies: [{Statement: [{Effect: Allow, Action: 's3:*'}]}]\n", "statement has no Resource"},
		{"intrinsic action", "      Policies: [{Statement: [{Effect: Allow, Action: !Ref A, Resource: '*'}]}]\n", "Action !Ref A, want a literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := cfn.Parse([]byte(head + tt.props))
			if err != nil {
				t.Fatal(err)
			}
			_, err = tpl.Functions()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "function F") {
				t.Errorf("Functions() error = %v, want one about function F containing %q", err, tt.want)
			}
		})
	}
}

func TestParseLookup(t *testing.T) {
	tpl := parseTemplate(t)
	for _, tt := range []struct {
		path []string
		want string
	}{
		{[]string{"Transform"}, "AWS::Serverless-2016-10-31"},
		{[]string{"Parameters", "LogLevel", "Default"}, "INFO"},
		{[]string{"Parameters", "DeletedRetention", "Default"}, "720h"},
		{[]string{"Parameters", "StuckAfter", "Default"}, "2h"},
		{[]string{"Resources", "WorkerFunction", "Properties", "Events", "CheckpointStream", "Properties", "Stream"}, "!GetAtt CheckpointsTable.StreamArn"},
		{[]string{"Resources", "WorkerFunction", "Properties", "Events", "CheckpointStream", "Properties", "DestinationConfig", "OnFailure"}, "{Type: SQS, Destination: !GetAtt WorkerFailureQueue.Arn}"},
		{[]string{"Resources", "SweeperFunction", "Properties", "Events", "Every5Minutes", "Properties", "Schedule"}, "rate(5 minutes)"},
		{[]string{"Resources", "JwtAuthorizer", "Properties", "AuthorizerType"}, "JWT"},
		{[]string{"Resources", "JwtAuthorizer", "Properties", "JwtConfiguration", "Issuer"}, "!If [HasJwtIssuer, !Ref JwtIssuer, !Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}]"},
		{[]string{"Outputs", "ApiUrl", "Value"}, "!Sub https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
	} {
		if got, ok := tpl.Lookup(tt.path...); !ok || got != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.path, got, ok, tt.want)
		}
	}
	if got, ok := tpl.Lookup("Resources", "Nope"); ok {
		t.Errorf("Lookup of a missing key = %q, true; want false", got)
	}
}
