-- uuid_v7.sql: time-ordered ids (src/uuid_v7.c).

CREATE FUNCTION crm.uuid_v7() RETURNS uuid
    AS 'MODULE_PATHNAME', 'crm_uuid_v7'
    LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION crm.uuid_v7() IS 'A new RFC 9562 version 7 uuid: millisecond Unix time first, so ids sort by creation and index well; strictly increasing within a backend, even within one millisecond.';
