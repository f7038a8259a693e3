public struct TreeChange: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case added = "+", removed = "-", modified = "M" }
    public var kind: Kind
    public var path: String
}

extension Volume {
    /// What changed from generation `a` to `b`. Subtrees with equal ids are skipped unread. With
    /// `limit`, the walk stops once more than `limit` changes are found (so a caller can say
    /// "truncated" without holding every change of two huge trees).
    public func diff(_ a: UInt64, _ b: UInt64, limit: Int = .max) async throws -> [TreeChange] {
        let index = try await loadIndex(excludingCondemned: false)
        let left = try await resolve(a), right = try await resolve(b)
        var changes: [TreeChange] = []
        try await diff(left.root, right.root, prefix: "", index: index, limit: limit, into: &changes)
        return changes
    }

    private func diff(_ a: BlobID?, _ b: BlobID?, prefix: String, index: BlobIndex, limit: Int, into changes: inout [TreeChange]) async throws {
        guard a != b, changes.count <= limit else { return }
        var left: [Tree.Entry] = [], right: [Tree.Entry] = []
        if let a { left = try await tree(a, index: index).entries }
        if let b { right = try await tree(b, index: index).entries }
        var l = 0, r = 0
        while l < left.count || r < right.count, changes.count <= limit {
            let order: Int
            if l == left.count { order = 1 } else if r == right.count { order = -1 } else if left[l].name == right[r].name { order = 0 } else {
                order = left[l].name.lexicographicallyPrecedes(right[r].name) ? -1 : 1
            }
            switch order {
            case -1:
                try await report(.removed, left[l], prefix: prefix, index: index, limit: limit, into: &changes); l += 1
            case 1:
                try await report(.added, right[r], prefix: prefix, index: index, limit: limit, into: &changes); r += 1
            default:
                let x = left[l], y = right[r]
                let path = prefix + x.displayName
                let bothDirectories = x.kind == Tree.Kind.directory && y.kind == Tree.Kind.directory
                let eitherDirectory = x.kind == Tree.Kind.directory || y.kind == Tree.Kind.directory
                let contentDiffers = x.kind != y.kind || x.chunks != y.chunks
                let metadataDiffers = x.symlinkTarget != y.symlinkTarget || x.mode != y.mode || x.uid != y.uid || x.gid != y.gid || x.opaque != y.opaque
                if bothDirectories {
                    try await diff(x.subtree, y.subtree, prefix: path + "/", index: index, limit: limit, into: &changes)
                } else if contentDiffers || metadataDiffers {
                    if eitherDirectory {
                        try await report(.removed, x, prefix: prefix, index: index, limit: limit, into: &changes)
                        try await report(.added, y, prefix: prefix, index: index, limit: limit, into: &changes)
                    } else {
                        changes.append(TreeChange(kind: .modified, path: path))
                    }
                }
                l += 1; r += 1
            }
        }
    }

    private func report(_ kind: TreeChange.Kind, _ entry: Tree.Entry, prefix: String, index: BlobIndex, limit: Int, into changes: inout [TreeChange]) async throws {
        let path = prefix + entry.displayName
        if entry.kind == .directory {
            changes.append(TreeChange(kind: kind, path: path + "/"))
            try await diff(kind == .removed ? entry.subtree : nil, kind == .added ? entry.subtree : nil, prefix: path + "/", index: index,
                           limit: limit, into: &changes)
        } else {
            changes.append(TreeChange(kind: kind, path: path))
        }
    }
}
