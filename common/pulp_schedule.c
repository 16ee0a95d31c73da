#include "pulp_schedule.h"

#include <string.h>

#define SECONDS_PER_DAY 86400
/* The average Gregorian year (365.2425 days), for the 1000-year limit of a duration. */
#define SECONDS_PER_AVERAGE_YEAR INT64_C(31556952)
#define MAX_DURATION_YEARS 1000
#define MAX_SCHEDULE_LENGTH 200
/* Digits of one number in a duration: enough for any duration below the limit, in seconds. */
#define MAX_DURATION_DIGITS 12

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    int64_t era;
    int64_t year_of_era;
    int64_t day_of_year;
    int64_t day_of_era;

    year -= month <= 2;
    era = (year >= 0 ? year : year - 399) / 400;
    year_of_era = year - era * 400;
    day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* Converts a day counted from 1970-01-01 to its date, the inverse of days_from_civil. */
static void civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t era;
    int64_t day_of_era;
    int64_t year_of_era;
    int64_t day_of_year;
    int64_t month_index;

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    day_of_era = days - era * 146097;
    year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) /
                  365;
    day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    month_index = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - (153 * month_index + 2) / 5 + 1);
    *month = (int)(month_index < 10 ? month_index + 3 : month_index - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

static int days_in_month(int64_t year, int month)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

static int64_t floor_divide(int64_t value, int64_t divisor)
{
    int64_t quotient = value / divisor;

    return value % divisor < 0 ? quotient - 1 : quotient;
}

/* Reads exactly count digits at *text. Returns -1 unless there are that many. */
static int64_t fixed_digits(const char **text, int count)
{
    int64_t value = 0;

    for (int i = 0; i < count; i++) {
        if ((*text)[i] < '0' || (*text)[i] > '9')
            return -1;
        value = value * 10 + ((*text)[i] - '0');
    }
    *text += count;
    return value;
}

/* Reads one to max_digits digits at *text. Returns -1 when there are none or too many. */
static int64_t number(const char **text, int max_digits)
{
    int64_t value = 0;
    int count = 0;

    while (**text >= '0' && **text <= '9') {
        if (++count > max_digits)
            return -1;
        value = value * 10 + (**text - '0');
        (*text)++;
    }
    return count > 0 ? value : -1;
}

static pulp_status_t invalid(pulp_error_t *error, const char *text, const char *reason)
{
    return pulp_error_set(error, PULP_ERR_INVALID_VALUE,
                          "invalid schedule \"%.200s\": %s; expected an ISO 8601 repeating "
                          "interval [R<n>/][<start>/]<duration> such as "
                          "R5/2026-01-01T03:00:00Z/P1D or PT6H", text, reason);
}

/* Parses "R" or "R<n>" (part has no "/"). */
static pulp_status_t parse_runs(const char *text, const char *part, pulp_schedule_t *schedule,
                                pulp_error_t *error)
{
    const char *cursor = part + 1;

    if (*cursor == '\0') {
        schedule->runs = -1;
        return PULP_OK;
    }
    schedule->runs = number(&cursor, 10);
    if (schedule->runs < 0 || *cursor != '\0' || schedule->runs > INT32_MAX)
        return invalid(error, text, "the number of runs after R must be a whole number from "
                                    "1 to 2147483647");
    if (schedule->runs == 0)
        return invalid(error, text, "R0 would never run: the number of runs must be at least 1");
    return PULP_OK;
}

/* Reads the zone of a start time at *cursor: "Z", "+hh", "+hhmm" or "+hh:mm" (or "-"), or
 * nothing (UTC). Returns the offset east of UTC in seconds through *offset, 0 on success. */
static int parse_zone(const char *cursor, int64_t *offset)
{
    int sign;
    int64_t hours;
    int64_t minutes = 0;

    *offset = 0;
    if (*cursor == '\0' || strcmp(cursor, "Z") == 0)
        return 0;
    if (*cursor != '+' && *cursor != '-')
        return -1;
    sign = *cursor == '-' ? -1 : 1;
    cursor++;
    hours = fixed_digits(&cursor, 2);
    if (*cursor == ':')
        cursor++;
    if (*cursor != '\0')
        minutes = fixed_digits(&cursor, 2);
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || *cursor != '\0')
        return -1;
    *offset = sign * (hours * 3600 + minutes * 60);
    return 0;
}

/* Parses a start, YYYY-MM-DD[Thh:mm[:ss[.fraction]][zone]] (part has no "/"). A start
 * without a zone is in UTC. A fraction of a second is dropped, because runs sit on whole
 * seconds. */
static pulp_status_t parse_start(const char *text, const char *part, pulp_schedule_t *schedule,
                                 pulp_error_t *error)
{
    const char *cursor = part;
    int64_t year = fixed_digits(&cursor, 4);
    int64_t month = -1;
    int64_t day = -1;
    int64_t hour = 0;
    int64_t minute = 0;
    int64_t second = 0;
    int64_t offset = 0;

    if (year >= 0 && *cursor++ == '-')
        month = fixed_digits(&cursor, 2);
    if (month >= 0 && *cursor++ == '-')
        day = fixed_digits(&cursor, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, (int)month))
        return invalid(error, text, "the start must begin with a valid date YYYY-MM-DD");

    if (*cursor == 'T') {
        cursor++;
        hour = fixed_digits(&cursor, 2);
        minute = *cursor++ == ':' ? fixed_digits(&cursor, 2) : -1;
        if (minute >= 0 && *cursor == ':') {
            cursor++;
            second = fixed_digits(&cursor, 2);
            if (second >= 0 && (*cursor == '.' || *cursor == ',')) {
                cursor++;
                if (number(&cursor, 9) < 0)
                    second = -1;
            }
        }
        if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 ||
            parse_zone(cursor, &offset) != 0)
            return invalid(error, text, "the start's time must be hh:mm or hh:mm:ss, then Z "
                                        "or an offset such as +02:00");
    } else if (*cursor != '\0') {
        return invalid(error, text, "the start must be a date YYYY-MM-DD or a date and time "
                                    "YYYY-MM-DDThh:mm:ssZ");
    }

    schedule->has_start = 1;
    schedule->start = days_from_civil(year, (int)month, (int)day) * SECONDS_PER_DAY +
                      hour * 3600 + minute * 60 + second - offset;
    return PULP_OK;
}

/* Parses a duration, P[nY][nM][nW][nD][T[nH][nM][nS]] (part has no "/"). */
static pulp_status_t parse_duration(const char *text, const char *part,
                                    pulp_schedule_t *schedule, pulp_error_t *error)
{
    static const char date_units[] = "YMWD";
    static const char time_units[] = "HMS";
    static const int64_t date_seconds[] = { 0, 0, 7 * SECONDS_PER_DAY, SECONDS_PER_DAY };
    static const int64_t time_seconds[] = { 3600, 60, 1 };
    const char *cursor = part + 1;
    const char *units = date_units;
    int next_unit = 0;
    int components = 0;
    int time_components = -1;

    if (*part != 'P')
        return invalid(error, text, "the duration must start with P");
    while (*cursor) {
        int64_t value;
        const char *unit;

        if (*cursor == 'T' && units == date_units) {
            units = time_units;
            next_unit = 0;
            time_components = 0;
            cursor++;
            continue;
        }
        value = number(&cursor, MAX_DURATION_DIGITS);
        if (value >= 0 && (*cursor == '.' || *cursor == ','))
            return invalid(error, text, "fractions in the duration are not supported");
        unit = *cursor ? strchr(units, *cursor) : NULL;
        if (value < 0 || !unit || unit - units < next_unit)
            return invalid(error, text, "the duration must be P[nY][nM][nW][nD][T[nH][nM][nS]] "
                                        "with whole numbers, in that order");
        next_unit = (int)(unit - units) + 1;
        components++;
        if (units == time_units) {
            time_components++;
            schedule->seconds += value * time_seconds[unit - units];
        } else if (*unit == 'Y') {
            schedule->months += value * 12;
        } else if (*unit == 'M') {
            schedule->months += value;
        } else {
            schedule->seconds += value * date_seconds[unit - units];
        }
        cursor++;
    }
    if (components == 0 || time_components == 0)
        return invalid(error, text, "the duration has no value: P and T must each be followed "
                                    "by at least one number and unit");
    if (schedule->months == 0 && schedule->seconds == 0)
        return invalid(error, text, "the duration must be longer than zero");
    if (schedule->months > MAX_DURATION_YEARS * 12 ||
        schedule->seconds > MAX_DURATION_YEARS * SECONDS_PER_AVERAGE_YEAR ||
        schedule->months * (SECONDS_PER_AVERAGE_YEAR / 12) + schedule->seconds >
            MAX_DURATION_YEARS * SECONDS_PER_AVERAGE_YEAR)
        return invalid(error, text, "the duration is longer than 1000 years");
    return PULP_OK;
}

pulp_status_t pulp_schedule_parse(const char *text, pulp_schedule_t *schedule,
                                  pulp_error_t *error)
{
    char copy[MAX_SCHEDULE_LENGTH + 1];
    char *parts[3];
    int n_parts = 0;
    int next = 0;
    size_t length = text ? strlen(text) : 0;

    memset(schedule, 0, sizeof *schedule);
    schedule->runs = -1;
    if (length == 0)
        return invalid(error, "", "the schedule is empty");
    if (length > MAX_SCHEDULE_LENGTH)
        return invalid(error, text, "the schedule is longer than 200 characters");
    memcpy(copy, text, length + 1);

    parts[n_parts++] = copy;
    for (char *slash = strchr(copy, '/'); slash; slash = strchr(slash + 1, '/')) {
        if (n_parts == 3)
            return invalid(error, text, "it has more than three parts");
        *slash = '\0';
        parts[n_parts++] = slash + 1;
    }
    for (int i = 0; i < n_parts; i++) {
        if (!parts[i][0])
            return invalid(error, text, "a part is empty: check for a doubled, leading or "
                                        "trailing \"/\"");
    }

    if (n_parts > 1 && parts[0][0] == 'R') {
        if (parse_runs(text, parts[0], schedule, error) != PULP_OK)
            return error->status;
        next = 1;
    }
    if (n_parts - next == 2) {
        if (parse_start(text, parts[next], schedule, error) != PULP_OK)
            return error->status;
        next++;
    }
    if (n_parts - next != 1)
        return invalid(error, text, "only an R<n> part and a start may come before the "
                                    "duration");
    if (parse_duration(text, parts[next], schedule, error) != PULP_OK)
        return error->status;
    if (schedule->months > 0 && !schedule->has_start)
        return invalid(error, text, "a duration in years or months needs a start, such as "
                                    "2026-01-31T03:00:00Z/P1M, because calendar steps count "
                                    "from a date");
    return PULP_OK;
}

/* Adds count months to *time. A day past the end of the target month becomes its last day.
 * Returns -1, leaving *time unchanged, when the result would be past year 9999. */
static int add_months(int64_t *time, int64_t count)
{
    int64_t days = floor_divide(*time, SECONDS_PER_DAY);
    int64_t second_of_day = *time - days * SECONDS_PER_DAY;
    int64_t year;
    int month;
    int day;
    int64_t month_number;

    civil_from_days(days, &year, &month, &day);
    month_number = year * 12 + (month - 1) + count;
    year = month_number / 12;
    month = (int)(month_number % 12) + 1;
    if (year > 9999)
        return -1;
    if (day > days_in_month(year, month))
        day = days_in_month(year, month);
    *time = days_from_civil(year, month, day) * SECONDS_PER_DAY + second_of_day;
    return 0;
}

int64_t pulp_schedule_run_time(const pulp_schedule_t *schedule, int64_t first_run,
                               int64_t index)
{
    int64_t time = first_run;

    if (index < 0)
        return PULP_SCHEDULE_NO_RUN;
    /* Past 10000 years the result is beyond PULP_SCHEDULE_MAX_TIME, and the products below
     * could overflow. */
    if (schedule->months > 0 && index > INT64_C(10000) * 12 / schedule->months + 1)
        return PULP_SCHEDULE_NO_RUN;
    if (schedule->months > 0 && add_months(&time, index * schedule->months) != 0)
        return PULP_SCHEDULE_NO_RUN;
    if (schedule->seconds > 0 && index > (PULP_SCHEDULE_MAX_TIME - time) / schedule->seconds)
        return PULP_SCHEDULE_NO_RUN;
    time += index * schedule->seconds;
    return time > PULP_SCHEDULE_MAX_TIME ? PULP_SCHEDULE_NO_RUN : time;
}

int64_t pulp_schedule_next_run(const pulp_schedule_t *schedule, int64_t first_run,
                               int64_t after)
{
    /* No step is shorter than this: a calendar month has at least 28 days. */
    int64_t shortest_step = schedule->months * 28 * SECONDS_PER_DAY + schedule->seconds;
    int64_t low = 0;
    int64_t high;

    if (first_run > after)
        return first_run > PULP_SCHEDULE_MAX_TIME ? PULP_SCHEDULE_NO_RUN : first_run;
    if (shortest_step <= 0)
        return PULP_SCHEDULE_NO_RUN;

    /* Run 0 is not later than after, but run high is (or lies past the maximum time), so
     * bisect between them. */
    high = (after - first_run) / shortest_step + 1;
    while (high > low + 1) {
        int64_t middle = low + (high - low) / 2;
        int64_t time = pulp_schedule_run_time(schedule, first_run, middle);

        if (time == PULP_SCHEDULE_NO_RUN || time > after)
            high = middle;
        else
            low = middle;
    }
    return pulp_schedule_run_time(schedule, first_run, high);
}
