// Command create-checkpoint is the Lambda function for POST /v1/{tenant_id}/providers/{provider_id}/checkpoints.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("create-checkpoint") }
