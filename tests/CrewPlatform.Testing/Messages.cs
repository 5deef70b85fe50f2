using CrewPlatform.Contracts;

namespace CrewPlatform.Testing;

/// <summary>Messages as the services would send them, each for a fresh run and user so tests never see each other's.</summary>
public static class Messages
{
    /// <param name="context">Defaults to one that names the fresh user, so a shared fake crew API's calls can be told apart.</param>
    public static RunCrewForUser RunCrewForUser(string? context = null, string? goal = "Open a second shop")
    {
        var user = $"user-{Guid.NewGuid():N}"[..17];
        return new RunCrewForUser { RunId = Guid.NewGuid(), UserUid = user, Context = context ?? $"Business of {user}", Goal = goal };
    }
}
