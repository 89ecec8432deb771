/*
 * email.c: crm.email, an email address validated on input and compared case-insensitively.
 *
 * An address is normalized once, on input: surrounding white space is dropped and ASCII letters are
 * lowered. Every comparison is then a plain byte comparison, so equality, btree order and hashing
 * agree, and an index on a crm.email column costs what an index on bytea costs (no lower() per
 * comparison, as citext does). The case of the address as typed is not kept. The value is laid out as
 * a bytea is, so the comparison and hash operators are PostgreSQL's own bytea functions (src/email.sql).
 *
 * Accepted: dot-atom local parts (RFC 5322 atext and dots, no leading, trailing or double dot), a
 * domain of at least two labels (letters, digits, hyphens, not at a label's ends; the top label not all
 * digits), and UTF-8 in either part (RFC 6531 addresses); at most 64 bytes before the '@' and 254 in all
 * (RFC 5321). Not accepted: quoted local parts, comments and address literals ([192.0.2.1]), which a
 * CRM never needs and which make addresses compare in surprising ways.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "crm.h"

#define EMAIL_MAX_LENGTH 254
#define EMAIL_MAX_LOCAL 64
#define EMAIL_MAX_LABEL 63

/* RFC 5322 atext, besides letters and digits */
static bool
is_atext_symbol(unsigned char c)
{
	return c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

static bool
is_ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * email_normalize checks the address in[0..len) and writes its normal form (ASCII lowered) to out,
 * which has room for len bytes. Returns the normal form's length, or -1 with *reason set.
 */
static int
email_normalize(const char *in, int len, char *out, const char **reason)
{
	int			start = 0;
	int			end = len;
	int			at = -1;
	int			n;
	int			i;
	int			label_len;
	bool		label_all_digits;

	while (start < end && isspace((unsigned char) in[start]))
		start++;
	while (end > start && isspace((unsigned char) in[end - 1]))
		end--;
	n = end - start;
	if (n == 0)
	{
		*reason = "An email address must not be empty.";
		return -1;
	}
	if (n > EMAIL_MAX_LENGTH)
	{
		*reason = "An email address has at most 254 characters.";
		return -1;
	}
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) in[start + i];

		if (c == '@')
		{
			if (at >= 0)
			{
				*reason = "An email address has exactly one \"@\".";
				return -1;
			}
			at = i;
		}
		out[i] = (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : (char) c;
	}
	if (at < 0)
	{
		*reason = "An email address needs an \"@\".";
		return -1;
	}
	if (at == 0)
	{
		*reason = "The part before the \"@\" is empty.";
		return -1;
	}
	if (at > EMAIL_MAX_LOCAL)
	{
		*reason = "The part before the \"@\" has at most 64 characters.";
		return -1;
	}

	/* local part: dot-atom */
	for (i = 0; i < at; i++)
	{
		unsigned char c = (unsigned char) out[i];

		if (c == '.')
		{
			if (i == 0 || i == at - 1 || out[i - 1] == '.')
			{
				*reason = "The part before the \"@\" cannot start or end with a dot, or have two dots in a row.";
				return -1;
			}
		}
		else if (c == '"' || c == '(' || c == ')' || c == '[' || c == ']' || c == '\\')
		{
			*reason = "Quoted local parts, comments and address literals are not accepted.";
			return -1;
		}
		else if (!(is_ascii_alnum(c) || is_atext_symbol(c) || c >= 0x80))
		{
			*reason = "The part before the \"@\" may hold letters, digits, dots and !#$%&'*+/=?^_`{|}~- only.";
			return -1;
		}
	}

	/* domain: labels of letters, digits and inner hyphens; at least two; top label not numeric */
	if (at == n - 1)
	{
		*reason = "The domain after the \"@\" is empty.";
		return -1;
	}
	label_len = 0;
	label_all_digits = true;
	for (i = at + 1; i <= n; i++)
	{
		unsigned char c = (i < n) ? (unsigned char) out[i] : '.';

		if (c == '.')
		{
			if (label_len == 0)
			{
				*reason = "The domain has an empty label (a leading, trailing or double dot).";
				return -1;
			}
			if (out[i - 1] == '-')
			{
				*reason = "A domain label cannot start or end with a hyphen.";
				return -1;
			}
			if (i == n && label_all_digits)
			{
				*reason = "The domain's last label cannot be all digits.";
				return -1;
			}
			label_len = 0;
			label_all_digits = true;
			continue;
		}
		if (c == '[')
		{
			*reason = "Quoted local parts, comments and address literals are not accepted.";
			return -1;
		}
		if (!(is_ascii_alnum(c) || c == '-' || c >= 0x80))
		{
			*reason = "A domain may hold letters, digits, hyphens and dots only.";
			return -1;
		}
		if (c == '-' && label_len == 0)
		{
			*reason = "A domain label cannot start or end with a hyphen.";
			return -1;
		}
		if (!(c >= '0' && c <= '9'))
			label_all_digits = false;
		if (++label_len > EMAIL_MAX_LABEL)
		{
			*reason = "A domain label has at most 63 characters.";
			return -1;
		}
	}
	if (memchr(out + at + 1, '.', n - at - 1) == NULL)
	{
		*reason = "The domain needs at least two labels, as in example.com.";
		return -1;
	}
	return n;
}

/* email_from_cstring builds a crm.email from text, raising 22P02 quoting the value when malformed. */
static text *
email_from_cstring(const char *str, int len)
{
	text	   *result = (text *) palloc(VARHDRSZ + len);
	const char *reason = NULL;
	int			n;

	/* verify the encoding first, so that the error message can quote the value safely */
	(void) pg_verifymbstr(str, len, false);
	n = email_normalize(str, len, VARDATA(result), &reason);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type crm.email: \"%.*s\"", len, str),
				 errdetail("%s", reason)));
	SET_VARSIZE(result, VARHDRSZ + n);
	return result;
}

PG_FUNCTION_INFO_V1(crm_email_in);
Datum
crm_email_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);

	PG_RETURN_TEXT_P(email_from_cstring(str, strlen(str)));
}

PG_FUNCTION_INFO_V1(crm_email_out);
Datum
crm_email_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* Binary input is untrusted: it is validated and normalized like text input. */
PG_FUNCTION_INFO_V1(crm_email_recv);
Datum
crm_email_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *str = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);

	PG_RETURN_TEXT_P(email_from_cstring(str, nbytes));
}

PG_FUNCTION_INFO_V1(crm_email_send);
Datum
crm_email_send(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendtext(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* text -> crm.email (the cast): the same validation as input */
PG_FUNCTION_INFO_V1(crm_email_from_text);
Datum
crm_email_from_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(email_from_cstring(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/* crm.email_domain: the part after the '@' (already lowercase). */
PG_FUNCTION_INFO_V1(crm_email_domain);
Datum
crm_email_domain(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	const char *at = memchr(s, '@', len);

	if (at == NULL)				/* cannot happen for a valid crm.email */
		elog(ERROR, "crm.email value without \"@\"");
	PG_RETURN_TEXT_P(cstring_to_text_with_len(at + 1, len - (int) (at + 1 - s)));
}

/* email_before returns true when a sorts before b (byte order of the normalized addresses). */
static bool
email_before(text *a, text *b)
{
	int			la = VARSIZE_ANY_EXHDR(a);
	int			lb = VARSIZE_ANY_EXHDR(b);
	int			r = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(la, lb));

	return r < 0 || (r == 0 && la < lb);
}

/* min() and max() transition functions: the smaller or larger of two addresses. */
PG_FUNCTION_INFO_V1(crm_email_smaller);
Datum
crm_email_smaller(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);

	PG_RETURN_TEXT_P(email_before(b, a) ? b : a);
}

PG_FUNCTION_INFO_V1(crm_email_larger);
Datum
crm_email_larger(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);

	PG_RETURN_TEXT_P(email_before(a, b) ? b : a);
}
