using System.Collections.Concurrent;

namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>
/// The (run, user) pairs this process is working on right now: what the heartbeat renews, and what keeps a second
/// copy of a command in this process from taking over a claim the ledger already shows as ours.
/// </summary>
public sealed class ActiveClaims
{
    private readonly ConcurrentDictionary<(Guid RunId, string UserUid), byte> active = new();

    /// <summary>False when another consumer in this process holds the (run, user) already.</summary>
    public bool TryRegister(Guid runId, string userUid) => active.TryAdd((runId, userUid), 0);

    public void Unregister(Guid runId, string userUid) => active.TryRemove((runId, userUid), out _);

    public IReadOnlyCollection<(Guid RunId, string UserUid)> Snapshot() => [.. active.Keys];
}
