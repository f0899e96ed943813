// Command list-checkpoints is the Lambda function for GET /v1/{tenant_id}/providers/{provider_id}/checkpoints.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("list-checkpoints") }
