-- An operator resolves a payout anomaly with a reason (issue 19; `kitoctl payout resolve --payout
-- pay_... --reason TEXT`): every unresolved report of the payout gets resolved_at, resolved_by
-- (NULL: kitoctl, whose user and host the audit row records) and the reason, in one transaction
-- with its audit row ('payout.anomaly_resolved'). The payout stays held ('anomaly'): the worker
-- never sends, retries or posts it; what the operator did about the money is what the reason says.
ALTER TABLE payout_anomalies
  ADD COLUMN resolution VARCHAR(512) NULL AFTER resolved_by,
  ADD CONSTRAINT payout_anomalies_resolution
    CHECK (resolution IS NULL OR resolved_at IS NOT NULL);
