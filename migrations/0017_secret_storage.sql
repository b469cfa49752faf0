-- Identity recovery (issue 10 §4): whether the identity's private cross-signing keys are in
-- its server-side secret storage, so a lost store can be rebuilt under the same identity.
ALTER TABLE crypto_identities ADD COLUMN secrets_stored BOOLEAN NOT NULL DEFAULT FALSE;
