// Command delete-checkpoint is the Lambda function for DELETE /v1/{tenant_id}/providers/{provider_id}/checkpoints/{checkpoint_id}.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("delete-checkpoint") }
