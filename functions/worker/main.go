// Command worker is the Lambda function subscribed to the checkpoints
// table's stream: it protects and deletes checkpoints in the background.
package main

import "karbor/internal/worker"

func main() { worker.StartWorker() }
