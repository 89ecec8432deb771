/*
 * phone.c: crm.phone, a telephone number stored as E.164 (+ country code and number, 15 digits at most).
 *
 * Common international spellings are read: "+44 20 7946 0958", "0044 20 7946 0958",
 * "(+44) 20-7946-0958", "+44 (0)20 7946 0958", "+1 (415) 555-0100"; all of them are stored as the
 * digits of +442079460958 and printed that way, so they compare equal. A number without a country
 * code is refused by the type's input (which country would it be?); crm.to_phone(value,
 * default_country_code) reads national numbers, dropping the trunk prefix (0 in most countries, 1 in
 * the North American plan; Italy, San Marino and the Vatican keep their leading 0).
 *
 * The digits of an E.164 number fit in a 64-bit integer (less than 10^15, and the country code never
 * starts with 0, so the integer gives back the digits): the type is a pass-by-value int8, and its
 * comparison and hash operators are PostgreSQL's own int8 functions (src/phone.sql).
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "crm.h"

#define PHONE_MAX_DIGITS 15
#define PHONE_MIN_DIGITS 7

/* phone_cc_length returns how many of the leading digits are the ITU country calling code (1 to 3). */
static int
phone_cc_length(const char *digits)
{
	/* the one- and two-digit codes; every other code has three digits */
	static const char *const two_digit[] = {
		"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
		"47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
		"64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"
	};

	if (digits[0] == '1' || digits[0] == '7')
		return 1;
	for (size_t i = 0; i < lengthof(two_digit); i++)
		if (digits[0] == two_digit[i][0] && digits[1] == two_digit[i][1])
			return 2;
	return 3;
}

/* Countries whose national numbers keep their leading 0 after the country code. */
static bool
phone_keeps_trunk_zero(const char *cc)
{
	return strcmp(cc, "39") == 0 || strcmp(cc, "378") == 0 || strcmp(cc, "379") == 0;
}

/*
 * phone_parse reads in[0..len). default_cc is a country code ("44") for national numbers, or NULL to
 * refuse them. On success it sets *value to the E.164 digits as an integer and returns NULL; otherwise
 * it returns why the input is not a phone number.
 */
static const char *
phone_parse(const char *in, int len, const char *default_cc, int64 *value)
{
	char		digits[PHONE_MAX_DIGITS + 8];
	int			ndigits = 0;
	int			depth = 0;
	bool		plus = false;
	bool		seen_digit = false;
	int			group_start = -1;	/* ndigits when the current "(" opened */
	bool		international;
	char		number[PHONE_MAX_DIGITS + 1];
	int			n = 0;
	int			start;
	int			i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) in[i];

		if (c >= '0' && c <= '9')
		{
			if (ndigits >= (int) sizeof(digits) - 1)
				return "A phone number has at most 15 digits.";
			digits[ndigits++] = (char) c;
			seen_digit = true;
		}
		else if (c == '+')
		{
			if (plus || seen_digit)
				return "A \"+\" may only come first, before the country code.";
			plus = true;
		}
		else if (c == '(')
		{
			if (depth > 0)
				return "Parentheses cannot nest.";
			depth++;
			group_start = ndigits;
		}
		else if (c == ')')
		{
			if (depth == 0)
				return "A \")\" has no \"(\".";
			depth--;
			/* "(0)" after the country code: the trunk prefix, written for national callers */
			if (ndigits == group_start + 1 && digits[group_start] == '0' && group_start > 0 &&
				(plus || (group_start > 2 && digits[0] == '0' && digits[1] == '0')))
				ndigits--;
		}
		else if (c == ' ' || c == '-' || c == '.' || c == '/' || c == '\t')
			continue;
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			return "Letters are not accepted (nor extensions such as \"x123\").";
		else
			return "A phone number holds digits, an optional leading \"+\", spaces, and - . / ( ) only.";
	}
	if (depth != 0)
		return "A \"(\" is not closed.";
	if (ndigits == 0)
		return "A phone number needs digits.";
	digits[ndigits] = '\0';

	/* international: "+CC…" or "00CC…" */
	start = 0;
	international = plus;
	if (!plus && ndigits > 2 && digits[0] == '0' && digits[1] == '0')
	{
		international = true;
		start = 2;
	}
	if (international)
	{
		if (digits[start] == '0')
			return "A country code does not start with 0.";
		n = ndigits - start;
		if (n > PHONE_MAX_DIGITS)
			return "A phone number has at most 15 digits.";
		memcpy(number, digits + start, n);
	}
	else
	{
		int			cclen;
		const char *national = digits;
		int			nlen = ndigits;

		if (default_cc == NULL)
			return "The number has no country code: write it as +CC..., or read it with crm.to_phone(value, default_country_code).";
		cclen = strlen(default_cc);
		if (strcmp(default_cc, "1") == 0)
		{
			/* North American plan: 1 is the trunk prefix */
			if (nlen == 11 && national[0] == '1')
			{
				national++;
				nlen--;
			}
		}
		else if (!phone_keeps_trunk_zero(default_cc) && national[0] == '0')
		{
			national++;
			nlen--;
		}
		if (nlen == 0)
			return "A phone number needs digits after its trunk prefix.";
		if (cclen + nlen > PHONE_MAX_DIGITS)
			return "A phone number has at most 15 digits.";
		memcpy(number, default_cc, cclen);
		memcpy(number + cclen, national, nlen);
		n = cclen + nlen;
	}
	number[n] = '\0';

	if (n < PHONE_MIN_DIGITS)
		return "A phone number has at least 7 digits with its country code.";
	/* the North American plan and +7 have ten-digit national numbers */
	if ((number[0] == '1' || number[0] == '7') && n != 11)
		return "Numbers in +1 and +7 have ten digits after the country code.";
	if (n - phone_cc_length(number) < 4)
		return "The number after the country code is too short.";

	*value = 0;
	for (i = 0; i < n; i++)
		*value = *value * 10 + (number[i] - '0');
	return NULL;
}

/* phone_from_text parses a phone, raising 22P02 quoting the value when it is not one. */
static int64
phone_from_text(const char *str, int len, const char *default_cc)
{
	int64		value = 0;
	const char *reason = phone_parse(str, len, default_cc, &value);

	if (reason != NULL)
	{
		(void) pg_verifymbstr(str, len, false);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type crm.phone: \"%.*s\"", len, str),
				 errdetail("%s", reason)));
	}
	return value;
}

/* phone_check_value refuses an integer that is not the digits of an E.164 number (binary input). */
static int64
phone_check_value(int64 value)
{
	char		buf[32];
	int			n = snprintf(buf, sizeof(buf), "+" INT64_FORMAT, value);
	int64		parsed = 0;
	const char *reason = (value > 0) ? phone_parse(buf, n, NULL, &parsed) : "A phone number is positive.";

	if (reason != NULL || parsed != value)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid external crm.phone value"),
				 errdetail("%s", reason ? reason : "The value is not the digits of an E.164 number.")));
	return value;
}

PG_FUNCTION_INFO_V1(crm_phone_in);
Datum
crm_phone_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);

	PG_RETURN_INT64(phone_from_text(str, strlen(str), NULL));
}

PG_FUNCTION_INFO_V1(crm_phone_out);
Datum
crm_phone_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(psprintf("+" INT64_FORMAT, PG_GETARG_INT64(0)));
}

PG_FUNCTION_INFO_V1(crm_phone_recv);
Datum
crm_phone_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);

	PG_RETURN_INT64(phone_check_value(pq_getmsgint64(buf)));
}

PG_FUNCTION_INFO_V1(crm_phone_send);
Datum
crm_phone_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, PG_GETARG_INT64(0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(crm_phone_from_text);
Datum
crm_phone_from_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_INT64(phone_from_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), NULL));
}

PG_FUNCTION_INFO_V1(crm_phone_to_text);
Datum
crm_phone_to_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("+" INT64_FORMAT, PG_GETARG_INT64(0))));
}

/*
 * crm.to_phone(value text, default_country_code text): like the cast, but a national number is read
 * as one of default_country_code ("44" or "+44"). NULL value: NULL.
 */
PG_FUNCTION_INFO_V1(crm_to_phone);
Datum
crm_to_phone(PG_FUNCTION_ARGS)
{
	text	   *t;
	char	   *cc = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = PG_GETARG_TEXT_PP(0);
	if (!PG_ARGISNULL(1))
	{
		char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(1));
		char	   *p = given;
		size_t		len;

		if (*p == '+')
			p++;
		len = strlen(p);
		if (len < 1 || len > 3 || strspn(p, "0123456789") != len || p[0] == '0' ||
			phone_cc_length(p) != (int) len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid default_country_code: \"%s\"", given),
					 errdetail("A country calling code is one to three digits, such as \"44\" or \"+1\".")));
		cc = p;
	}
	PG_RETURN_INT64(phone_from_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), cc));
}

/* crm.phone_country_code: the ITU country calling code of a number (44 for +442079460958). */
PG_FUNCTION_INFO_V1(crm_phone_country_code);
Datum
crm_phone_country_code(PG_FUNCTION_ARGS)
{
	char		buf[32];
	int			cclen;

	snprintf(buf, sizeof(buf), INT64_FORMAT, PG_GETARG_INT64(0));
	cclen = phone_cc_length(buf);
	buf[cclen] = '\0';
	PG_RETURN_INT32(atoi(buf));
}
