public import Foundation

/// Which generations to keep: the last N, the newest of each of the last N hours that have one,
/// and the newest of each of the last N days (restic's `forget` rules). The head is always kept.
/// A policy with every count nil keeps everything.
public struct RetentionPolicy: Sendable, Equatable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?

    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
    }

    public var keepsEverything: Bool { keepLast == nil && keepHourly == nil && keepDaily == nil }

    /// `generations` are (number, time); returns the numbers to keep.
    public func kept(_ generations: [(UInt64, Date)]) -> Set<UInt64> {
        guard !keepsEverything else { return Set(generations.map(\.0)) }
        let newestFirst = generations.sorted { $0.0 > $1.0 }
        var keep: Set<UInt64> = []
        if let head = newestFirst.first { keep.insert(head.0) }
        if let keepLast { keep.formUnion(newestFirst.prefix(keepLast).map(\.0)) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for (count, component) in [(keepHourly, Calendar.Component.hour), (keepDaily, .day)] {
            guard let count else { continue }
            var buckets: Set<Date> = []
            for (number, time) in newestFirst {
                guard let bucket = calendar.dateInterval(of: component, for: time)?.start else { continue }
                if buckets.contains(bucket) { continue }
                guard buckets.count < count else { break }
                buckets.insert(bucket)
                keep.insert(number)
            }
        }
        return keep
    }
}
