package api

import "errors"

var errNotImplemented = errors.New("api: not implemented")

func (s *Service) createTrigger(r *request) (any, error) { return nil, errNotImplemented }
func (s *Service) listTriggers(r *request) (any, error)  { return nil, errNotImplemented }
func (s *Service) showTrigger(r *request) (any, error)   { return nil, errNotImplemented }
func (s *Service) updateTrigger(r *request) (any, error) { return nil, errNotImplemented }
func (s *Service) deleteTrigger(r *request) (any, error) { return nil, errNotImplemented }
