// Timestamps of event lines (docs/agent.md "Event lines", Falco's json_output): RFC 3339 in UTC
// with nanoseconds, and the time of day that prefixes the `output` text. Header-only and pure:
// the caller reads the clock.
//
// Thread-safety: pure functions.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace runguard {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): the
// timestamp parsers (event lines, scan reports, exception dates) turn dates into seconds with it.
inline int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "2026-11-29T06:21:58.123456789Z"
inline std::string rfc3339_nanos(const struct timespec& ts) {
  struct tm tm = {};
  time_t secs = ts.tv_sec;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(ts.tv_nsec));
  return buf;
}

// "06:21:58.123456789": Falco prints local wall-clock time of day before `output`; runguard prints
// UTC so the text and `time` agree.
inline std::string time_of_day_nanos(const struct timespec& ts) {
  struct tm tm = {};
  time_t secs = ts.tv_sec;
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%09ld", tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(ts.tv_nsec));
  return buf;
}

}  // namespace runguard
