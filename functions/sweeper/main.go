// Command sweeper is the scheduled Lambda function that ends checkpoints
// stuck in protecting or deleting.
package main

import "karbor/internal/worker"

func main() { worker.StartSweeper() }
