import Foundation

/// Parses how long a provider asks to wait: `retry-after-ms` (OpenAI), `Retry-After` as seconds or as
/// an IMF-fixdate (RFC 9110 §10.2.3). Header values are hostile: no arithmetic traps, absurd values
/// clamp to a day, and anything unparsable is nil (then the backoff applies).
enum RetryAfter {
    static let maxSeconds: Int64 = 86_400

    static func delay(retryAfter: String?, retryAfterMilliseconds: String?, now: Date) -> Duration? {
        if let ms = retryAfterMilliseconds?.trimmingCharacters(in: .whitespaces), let value = Double(ms), value.isFinite, value >= 0 {
            return .milliseconds(Int64(min(value, Double(maxSeconds * 1000))))
        }
        guard let raw = retryAfter?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        if raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            // Digits only; a huge number does not fit Int64 and clamps.
            return .seconds(raw.count > 12 ? maxSeconds : min(Int64(raw) ?? maxSeconds, maxSeconds))
        }
        guard let date = httpDate(raw) else { return nil }
        let seconds = date.timeIntervalSince(now)
        guard seconds.isFinite else { return nil }
        return .milliseconds(Int64(max(0, min(seconds, Double(maxSeconds))) * 1000))
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", parts[0].hasSuffix(",") else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let day = Int(parts[1]), (1...31).contains(day), let monthIndex = months.firstIndex(of: String(parts[2])),
              let year = Int(parts[3]), (1970...9999).contains(year) else { return nil }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, let h = Int(time[0]), let m = Int(time[1]), let s = Int(time[2]),
              (0...23).contains(h), (0...59).contains(m), (0...60).contains(s) else { return nil }
        let days = daysFromCivil(year: year, month: monthIndex + 1, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + h * 3600 + m * 60 + s))
    }

    /// Howard Hinnant's days_from_civil; all inputs are range-checked above.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
