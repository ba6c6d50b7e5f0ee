// FILETIME <-> ISO-8601 using civil-from-days arithmetic (no libc time zone state, thread-safe).
#include "timefmt.h"


// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void sk_time_format(uint64_t ft, char out[29])
{
    if (ft >= SK_FILETIME_TEXT_END)
        ft = SK_FILETIME_TEXT_END - 1; // never a year written modulo 10000
    // Ticks since 1601 -> days since 1970 (may be negative for pre-1970 times).
    int64_t secs = (int64_t)(ft / 10000000ULL) - (int64_t)(SK_FILETIME_UNIX_EPOCH / 10000000ULL);
    unsigned frac = (unsigned)(ft % 10000000ULL);
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    // Written digit by digit: this runs once per event in dump and every hit.
    unsigned yy = (unsigned)(y % 10000), hh = (unsigned)(rem / 3600), mm = (unsigned)(rem / 60 % 60),
             ss = (unsigned)(rem % 60);
    char *p = out;
    p[0] = (char)('0' + yy / 1000);
    p[1] = (char)('0' + yy / 100 % 10);
    p[2] = (char)('0' + yy / 10 % 10);
    p[3] = (char)('0' + yy % 10);
    p[4] = '-';
    p[5] = (char)('0' + m / 10);
    p[6] = (char)('0' + m % 10);
    p[7] = '-';
    p[8] = (char)('0' + d / 10);
    p[9] = (char)('0' + d % 10);
    p[10] = 'T';
    p[11] = (char)('0' + hh / 10);
    p[12] = (char)('0' + hh % 10);
    p[13] = ':';
    p[14] = (char)('0' + mm / 10);
    p[15] = (char)('0' + mm % 10);
    p[16] = ':';
    p[17] = (char)('0' + ss / 10);
    p[18] = (char)('0' + ss % 10);
    p[19] = '.';
    for (int i = 26; i >= 20; i--) {
        p[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    p[27] = 'Z';
    p[28] = '\0';
}

static bool digits(const char *s, size_t n, size_t at, size_t k, unsigned *v)
{
    if (at + k > n)
        return false;
    unsigned x = 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (unsigned)(c - '0');
    }
    *v = x;
    return true;
}

bool sk_time_parse(const char *s, size_t n, uint64_t *out)
{
    unsigned Y, M, D, h = 0, mi = 0, sec = 0;
    if (!digits(s, n, 0, 4, &Y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &M) ||
        s[7] != '-' || !digits(s, n, 8, 2, &D))
        return false;
    static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    // No day the calendar does not have (April 31 is not May 1).
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) ||
        Y < 1601)
        return false;
    size_t i = 10;
    uint64_t frac = 0;
    int64_t offset = 0;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' ||
            !digits(s, n, i + 3, 2, &mi))
            return false;
        i += 5;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &sec))
                return false;
            i += 3;
        }
        // A leap second (:60) only where one can be, at 23:59.
        if (h > 23 || mi > 59 || sec > 60 || (sec == 60 && (h != 23 || mi != 59)))
            return false;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            size_t nd = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (nd < 7) {
                    frac = frac * 10 + (uint64_t)(s[i] - '0');
                    nd++;
                }
                i++;
            }
            if (nd == 0)
                return false;
            for (; nd < 7; nd++)
                frac *= 10;
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            unsigned oh, om = 0;
            int sign = s[i] == '-' ? -1 : 1;
            if (!digits(s, n, i + 1, 2, &oh))
                return false;
            i += 3;
            if (i < n && s[i] == ':')
                i++;
            if (digits(s, n, i, 2, &om))
                i += 2;
            if (oh > 23 || om > 59)
                return false;
            offset = sign * (int64_t)(oh * 3600 + om * 60);
        }
    }
    if (i != n)
        return false;
    int64_t days = days_from_civil(Y, M, D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
    int64_t ticks = secs * 10000000LL + (int64_t)SK_FILETIME_UNIX_EPOCH + (int64_t)frac;
    if (ticks < 0)
        return false;
    *out = (uint64_t)ticks;
    return true;
}
