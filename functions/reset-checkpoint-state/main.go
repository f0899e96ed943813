// Command reset-checkpoint-state is the Lambda function for PUT /v1/{tenant_id}/providers/{provider_id}/checkpoints/{checkpoint_id}.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("reset-checkpoint-state") }
