package api

func (s *Service) createScheduledOperation(r *request) (any, error) { return nil, errNotImplemented }
func (s *Service) listScheduledOperations(r *request) (any, error)  { return nil, errNotImplemented }
func (s *Service) showScheduledOperation(r *request) (any, error)   { return nil, errNotImplemented }
func (s *Service) updateScheduledOperation(r *request) (any, error) { return nil, errNotImplemented }
func (s *Service) deleteScheduledOperation(r *request) (any, error) { return nil, errNotImplemented }
