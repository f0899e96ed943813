package api

func (s *Service) showQuota(r *request) (any, error)         { return nil, errNotImplemented }
func (s *Service) showQuotaDetail(r *request) (any, error)   { return nil, errNotImplemented }
func (s *Service) showQuotaDefaults(r *request) (any, error) { return nil, errNotImplemented }
func (s *Service) updateQuota(r *request) (any, error)       { return nil, errNotImplemented }
func (s *Service) deleteQuota(r *request) (any, error)       { return nil, errNotImplemented }
func (s *Service) showQuotaClass(r *request) (any, error)    { return nil, errNotImplemented }
func (s *Service) updateQuotaClass(r *request) (any, error)  { return nil, errNotImplemented }
