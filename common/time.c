/* time.c - sg_parse_time: ISO 8601 (UTC or with offset) or @unix-seconds;
   sg_format_time: ISO 8601 UTC */
#include "sg-base.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int digits(const char *s, int n, int *v_r)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* days_from_civil - days since 1970-01-01 (Howard Hinnant's algorithm) */
static long long days_from_civil(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int sg_parse_time(const char *text, time_t *t_r)
{
	int y, mo, d, h = 0, mi = 0, s = 0, oh = 0, om = 0, sign = 0;
	const char *p = text;
	long long t;

	if (text == NULL)
		return -1;
	if (*p == '@') {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(p + 1, &end, 10);
		if (errno != 0 || end == p + 1 || *end != '\0')
			return -1;
		*t_r = (time_t)v;
		return 0;
	}
	if (strlen(p) < 10 || digits(p, 4, &y) < 0 || p[4] != '-' ||
	    digits(p + 5, 2, &mo) < 0 || p[7] != '-' ||
	    digits(p + 8, 2, &d) < 0)
		return -1;
	p += 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (strlen(p) < 6 || digits(p + 1, 2, &h) < 0 || p[3] != ':' ||
		    digits(p + 4, 2, &mi) < 0)
			return -1;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &s) < 0)
				return -1;
			p += 3;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '+' ? 1 : -1;
			if (digits(p + 1, 2, &oh) < 0)
				return -1;
			p += 3;
			if (*p == ':')
				p++;
			if (digits(p, 2, &om) < 0)
				return -1;
			p += 2;
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60)
		return -1;
	t = days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + s;
	t -= sign * (oh * 3600 + om * 60);
	*t_r = (time_t)t;
	return 0;
}

int sg_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	sg_assert(buf != NULL || size == 0);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* sg_time_iso - sg_format_time(), else "@seconds" (sg_parse_time reads
   both) */
void sg_time_iso(time_t t, char *buf, size_t size)
{
	if (sg_format_time(t, buf, size) < 0)
		snprintf(buf, size, "@%lld", (long long)t);
}
