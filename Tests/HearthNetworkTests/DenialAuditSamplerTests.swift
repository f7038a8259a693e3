import Foundation
@testable import HearthNetwork
import Testing

/// Network denials reach the audit log sampled: a workspace hammering a refused destination writes a
/// few records and a summary per interval, never one per attempt nor one a second for ever.
@Suite struct DenialAuditSamplerTests {
    static func denial(_ n: Int) -> NetLogEntry {
        NetLogEntry(time: Date(timeIntervalSince1970: 0), kind: .connection, allowed: false, destination: "192.0.2.\(n % 250) tcp/443",
                    rule: "no rule allows it")
    }

    @Test func aFloodIsAFewRecordsAndOneSummaryPerInterval() {
        var sampler = DenialAuditSampler(interval: .seconds(60), perWorkspace: 5, perServer: 300)
        let t0 = ContinuousClock.now
        #expect(sampler.flush(now: t0).isEmpty)
        var records: [DenialAuditSampler.Record] = []
        // 10,000 denials of 250 destinations within one interval: the first five destinations are
        // recorded as they happen, every repeat and every later destination is held back.
        for n in 0..<10_000 { records += sampler.offer("ws1", Self.denial(n), now: t0 + .milliseconds(n)) }
        #expect(records.count == 5)
        #expect(Set(records.compactMap { $0.entry?.destination }).count == 5)
        #expect(records.allSatisfy { $0.heldBack == 0 && $0.workspace == "ws1" })
        // The interval ends: one summary with the count held back and the last denial.
        let summary = sampler.flush(now: t0 + .seconds(61))
        #expect(summary == [DenialAuditSampler.Record(workspace: "ws1", entry: Self.denial(9_999), heldBack: 9_995)])
        // A quiet interval writes nothing.
        #expect(sampler.flush(now: t0 + .seconds(122)).isEmpty)
        // The next interval records afresh.
        #expect(sampler.offer("ws1", Self.denial(1), now: t0 + .seconds(123)).count == 1)
    }

    /// Repeats of one destination are held back; a new destination is still recorded at once.
    @Test func repeatsAreHeldBackAndANewDestinationIsNot() {
        var sampler = DenialAuditSampler(interval: .seconds(60), perWorkspace: 16, perServer: 300)
        let t0 = ContinuousClock.now
        _ = sampler.flush(now: t0)
        var recorded = 0
        for _ in 0..<1_000 { recorded += sampler.offer("ws", Self.denial(7), now: t0 + .seconds(1)).count }
        #expect(recorded == 1)
        #expect(sampler.offer("ws", Self.denial(8), now: t0 + .seconds(2)).count == 1)
        #expect(sampler.flush(now: t0 + .seconds(60)).map(\.heldBack) == [999])
    }

    @Test func theServerWideCapHoldsAcrossWorkspaces() {
        var sampler = DenialAuditSampler(interval: .seconds(60), perWorkspace: 2, perServer: 10)
        let t0 = ContinuousClock.now
        _ = sampler.flush(now: t0)
        var immediate = 0
        for ws in 0..<100 {
            for n in 0..<3 { immediate += sampler.offer("ws\(ws)", Self.denial(n), now: t0 + .seconds(1)).count }
        }
        #expect(immediate == 10)
        let summaries = sampler.flush(now: t0 + .seconds(60))
        // At most perServer workspace summaries, and one server-wide summary of the rest.
        #expect(summaries.count == 11)
        #expect(summaries.last?.workspace == nil)
        let total = summaries.reduce(0) { $0 + $1.heldBack }
        #expect(total == 300 - 10)
    }

    /// One tenant's busy workspaces spend at most their tenant's share of what is recorded at once;
    /// another tenant's first denial is still recorded as it happens.
    @Test func oneTenantCannotSpendEveryonesBudget() {
        var sampler = DenialAuditSampler(interval: .seconds(60), perWorkspace: 16, perTenant: 20, perServer: 300)
        let t0 = ContinuousClock.now
        _ = sampler.flush(now: t0)
        var noisy = 0
        for ws in 0..<50 {
            for n in 0..<16 { noisy += sampler.offer("ws\(ws)", tenant: "noisy", Self.denial(n), now: t0 + .seconds(1)).count }
        }
        #expect(noisy == 20)
        #expect(sampler.offer("quiet-ws", tenant: "quiet", Self.denial(1), now: t0 + .seconds(2)).count == 1)
    }

    @Test func aDetachedWorkspaceIsForgotten() {
        var sampler = DenialAuditSampler(interval: .seconds(60), perWorkspace: 1, perServer: 10)
        let t0 = ContinuousClock.now
        _ = sampler.flush(now: t0)
        _ = sampler.offer("gone", Self.denial(0), now: t0)
        _ = sampler.offer("gone", Self.denial(1), now: t0)
        sampler.forget("gone")
        #expect(sampler.flush(now: t0 + .seconds(60)).isEmpty)
    }
}
