namespace CrewPlatform.Contracts;

/// <summary>Queues that a sender addresses directly (commands). Events are published and need no name here.</summary>
public static class QueueNames
{
    /// <summary>CrewCaller's queue for <see cref="RunCrewForUser"/>; the scheduler sends each user's command here.</summary>
    public const string RunCrewForUser = "run-crew-for-user";
}
