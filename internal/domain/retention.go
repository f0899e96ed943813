package domain

import "context"

// RunRetention runs the retention step of the fire fireID (FireID) of a
// retention_protect operation in projectID: it reads the fire's retention
// log (OperationLogID(OpRetention, fireID, "")); when there is none or it
// has ended, it does nothing. Else it deletes, through the normal delete
// path, the checkpoints of the operation's plan the rules choose
// (CONTRACT.md "Retention"), and ends the log. Safe to call again.
func (s *Service) RunRetention(ctx context.Context, projectID, fireID string) error {
	return nil // implemented by the retention work
}
