-- Sign-in throttling that a stranger cannot turn against the owner (issue 15, finding 3: ten wrong
-- PINs from ten addresses locked a miner's account for 15 minutes, renewable forever; DESIGN.md,
-- "Phone channel": nobody on the web can lock her phone out). OWASP Authentication Cheat Sheet,
-- "Account Lockout": a lock that anyone can trigger is a denial of service; count per account and
-- per address, slow down rather than lock, and exempt the owner's known clients.
--
-- signin_lockouts gets a third scope, 'pair': one account from one address, subject
-- "<account subject>/<address>" (the account subject as for scope 'account': an id, or the
-- 19-prefixed number of an identifier that no account has). A pair and an address are slowed and
-- then locked; the account scope only slows attempts from addresses that are not hers, and is
-- never locked: the locks that 002's code set on accounts are lifted here.
UPDATE signin_lockouts SET locked_until = NULL WHERE scope = 'account';

ALTER TABLE signin_lockouts
  MODIFY subject VARCHAR(72) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  DROP CONSTRAINT signin_lockouts_scope,
  ADD CONSTRAINT signin_lockouts_scope CHECK (scope IN ('account', 'address', 'pair')),
  ADD CONSTRAINT signin_lockouts_pair_subject
    CHECK (scope <> 'pair' OR subject REGEXP '^[1-9][0-9]{0,19}/[^/]+$'),
  ADD CONSTRAINT signin_lockouts_account_never_locked
    CHECK (scope <> 'account' OR locked_until IS NULL);

-- "Her address": one she has signed in from lately (a session of hers was created from it). The
-- account-wide delay does not apply there; this key answers that question without reading all
-- her sessions.
ALTER TABLE sessions ADD KEY sessions_account_ip (account_id, ip, created_at);
