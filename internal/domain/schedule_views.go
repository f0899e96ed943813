package domain

// View is the properties as the API shows them and as the list filter
// matches them: JSON types, times RFC 3339 UTC, end_time null when unset.
func (p TriggerProperties) View() map[string]any {
	var end any
	if p.EndTime != nil {
		end = Timestamp(*p.EndTime)
	}
	return map[string]any{
		"format":     p.Format,
		"pattern":    p.Pattern,
		"start_time": Timestamp(p.StartTime),
		"end_time":   end,
		"window":     p.Window,
	}
}

// View is the definition as the API shows it: only the keys set, the
// retention numbers as JSON integers.
func (d OperationDefinition) View() map[string]any {
	v := map[string]any{"provider_id": d.ProviderID, "plan_id": d.PlanID}
	if d.MaxBackups != nil {
		v["max_backups"] = *d.MaxBackups
	}
	if d.RetentionDuration != nil {
		v["retention_duration"] = *d.RetentionDuration
	}
	return v
}

// PlanProviderMismatch refuses a scheduled operation whose plan is at
// another provider than its definition's provider_id (400).
func PlanProviderMismatch(planID, providerID string) *Error {
	return invalid("Plan %s belongs to provider %s.", planID, providerID)
}
