public import HearthCore
public import HearthRuntime

/// The runtimes this server has, what each probe said, and which one a workspace gets by default.
public struct RuntimeRegistry: Sendable {
    public let runtimes: [RuntimeKind: any SandboxRuntime]
    public let availability: [RuntimeKind: RuntimeAvailability]
    public let defaultRuntime: RuntimeKind?

    /// Preference when nothing is asked for: a microVM with real KVM, then gVisor, then anything that works.
    public static func preferenceRank(_ a: RuntimeAvailability) -> Int {
        switch (a.runtime, a.mode) {
        case (.qemu, "kvm"): 0
        case (.gvisor, _): 1
        case (.qemu, _): 2
        case (.process, _): 3
        }
    }

    public init(runtimes: [any SandboxRuntime], availability: [RuntimeAvailability]) {
        var byKind: [RuntimeKind: any SandboxRuntime] = [:]
        for runtime in runtimes { byKind[runtime.kind] = runtime }
        self.runtimes = byKind
        self.availability = Dictionary(availability.map { ($0.runtime, $0) }, uniquingKeysWith: { a, _ in a })
        defaultRuntime = availability.filter(\.available).min { Self.preferenceRank($0) < Self.preferenceRank($1) }?.runtime
    }

    /// Probes every runtime concurrently.
    public static func probing(_ runtimes: [any SandboxRuntime]) async -> RuntimeRegistry {
        let results = await withTaskGroup(of: RuntimeAvailability.self) { group in
            for runtime in runtimes { group.addTask { await runtime.probe() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        return RuntimeRegistry(runtimes: runtimes, availability: results)
    }

    public func runtime(for requested: RuntimeKind?) throws -> any SandboxRuntime {
        guard let kind = requested ?? defaultRuntime else {
            throw HearthError(.runtimeUnavailable, "no sandbox runtime works on this host; run `hearth doctor`")
        }
        guard let runtime = runtimes[kind], availability[kind]?.available == true else {
            let why = availability[kind]?.reason ?? "this server has no \(kind.rawValue) runtime"
            throw HearthError(.runtimeUnavailable, "the \(kind.rawValue) runtime is not available: \(why)")
        }
        return runtime
    }

    public func existing(_ kind: RuntimeKind) throws -> any SandboxRuntime {
        guard let runtime = runtimes[kind] else {
            throw HearthError(.runtimeUnavailable, "this server has no \(kind.rawValue) runtime")
        }
        return runtime
    }
}
