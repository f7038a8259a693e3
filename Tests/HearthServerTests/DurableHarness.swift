import Foundation
import HearthHost
import HearthServer
import HearthServerTestKit
import HearthTestKit
import HTTPTypes
import HummingbirdTesting

/// A server on the in-process runtime with the server's own durable store in a scratch data
/// directory (interval commits off: tests commit when they mean to), its runtime, and the
/// operator's token.
struct DurableHarness {
    let service: HearthService
    let runtime: ProcessRuntime
    let admin: String
    let data: String

    static func start(_ name: String, store: Bool = true) async throws -> DurableHarness {
        let data = ProcessHost.scratchDirectory(name)
        var configuration = HearthServerConfiguration(dataDirectory: data, port: 0)
        configuration.identityPolicy.bcryptCost = 4
        configuration.commitInterval = nil
        if store {
            configuration.workspaceVolumes = try await DurableStore.open(DurableStoreConfiguration(dataDirectory: data), environment: [:],
                                                                         logger: ProcessHost.quietLogger)
        }
        let runtime = ProcessRuntime()
        let service = try await ProcessHost.service(configuration, runtime: runtime)
        let admin = try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return DurableHarness(service: service, runtime: runtime, admin: admin, data: data)
    }

    /// One call as the operator.
    func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String,
              json: String? = nil) async throws -> (status: Int, body: String) {
        try await ProcessRuntimeRouterTests.call(client, method, path, token: admin, json: json)
    }

    /// A workspace made by the operator, its id.
    func create(_ client: some TestClientProtocol, name: String) async throws -> String {
        let created = try await call(client, .post, "/v1/workspaces", json: #"{"name":"\#(name)"}"#)
        return try ProcessRuntimeRouterTests.workspace(created.body).id
    }

    /// The workspace's directory, which the in-process runtime commits as its layer.
    func root(_ id: String) -> String { data + "/workspaces/\(id)/workspace" }
}
