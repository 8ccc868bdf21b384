-- The analyst role's stored password verifier (null without a password); no row if the role is missing.
-- pg_authid is readable by superusers only.
select rolpassword from pg_authid where rolname = %(role)s
