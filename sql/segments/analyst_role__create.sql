-- The BI tools' read-only login role. Its password arrives as a SCRAM-SHA-256 verifier computed by
-- the client, never as plain text: a failing statement is quoted in the server log.
create role {analyst_role} login nosuperuser nocreatedb nocreaterole password %(password_verifier)s
