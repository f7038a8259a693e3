import Foundation
import HearthAPI
import HearthCore
@testable import HearthServer
import HearthServerTestKit
import Testing

/// Every JSON body a client sends is decoded into a typed request and validated before anything
/// acts on it. Mutated bodies never trap: they decode and validate, or they are refused.
@Suite struct RequestBodyFuzzTests {
    static let seeds: [String] = [
        #"{"name":"demo","image":"base","runtime":"gvisor","cpus":1.5,"memory_mib":1024,"disk_mib":4096}"#,
        #"{"cpus":1e308,"memory_mib":9223372036854775807,"disk_mib":-9223372036854775808}"#,
        #"{"workspaces":3,"cpus":2.5,"memory_mib":4096,"disk_mib":null}"#,
        #"{"source":"oci:tools","tenant":"acme","public":true}"#,
        #"{"argv":["sh","-c","echo hi"],"env":{"A":"B"},"cwd":"/workspace","timeout_ms":1000}"#,
    ]
    static let alphabet = Array(#"{}[]":,.-+eE0123456789 truefalsnul\"#.utf8)

    @Test func mutatedBodiesNeverTrap() {
        var random = SplitMix64(state: 0xB0D1)
        let decoder = API.decoder()
        for iteration in 0..<20_000 {
            var bytes = Array(Self.seeds[iteration % Self.seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...6, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] = Self.alphabet.randomElement(using: &random)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(Self.alphabet.randomElement(using: &random)!, at: at)
                default: bytes.insert(contentsOf: Array(String(Int64.random(in: .min ... .max, using: &random)).utf8), at: at)
                }
            }
            let data = Data(bytes)
            if let body = try? decoder.decode(API.CreateWorkspaceBody.self, from: data),
               let request = try? WorkspaceRoutes.parse(body, tenantId: "tn_x") {
                if let limits = try? (request.limits ?? ResourceLimits()).validated() {
                    var usage = TenantQuota.Usage(workspaces: .max - 1, cpus: 1e300, memoryMiB: .max - 5, diskMiB: .max)
                    usage.add(limits)
                    #expect((try? TenantQuota.standard.check(usage)) == nil)
                    #expect(limits.cpus > 0 && limits.cpus.isFinite)
                }
            }
            if let quota = try? decoder.decode(API.QuotaBody.self, from: data) {
                let parsed = TenantQuota(workspaces: quota.workspaces, cpus: quota.cpus, memoryMiB: quota.memory_mib, diskMiB: quota.disk_mib)
                if let valid = try? parsed.validated() { #expect(valid.cpus.map { $0 >= 0 && $0.isFinite } ?? true) }
            }
            _ = try? decoder.decode(API.ImportImageBody.self, from: data)
            _ = try? decoder.decode(API.ExecBody.self, from: data)
            _ = try? decoder.decode(API.SignInBody.self, from: data)
            _ = try? decoder.decode(API.CreateUserBody.self, from: data)
            _ = try? decoder.decode(API.CreateTokenBody.self, from: data)
            _ = try? decoder.decode(API.MoveBody.self, from: data)
        }
    }
}
