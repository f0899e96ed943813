// Command show-checkpoint is the Lambda function for GET /v1/{tenant_id}/providers/{provider_id}/checkpoints/{checkpoint_id}.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("show-checkpoint") }
