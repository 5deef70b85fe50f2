using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The fixture's private database with the scheduler's schema migrated, emptied by each test that uses it.</summary>
public sealed class SchedulerDatabase : RealInfrastructure
{
    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [SchedulerAppFixture.Schema];

    /// <summary>Tests of one class run one after another over this database; each starts from empty tables.</summary>
    public Task ResetAsync() =>
        ExecuteAsync("TRUNCATE public.users; TRUNCATE scheduler.run_users, scheduler.runs, scheduler.schedule, audit.entries");

    public Task AddUsersAsync(int count, Func<int, (string? Context, string? Goal)>? fields = null) =>
        AddUsersAsync(Enumerable.Range(1, count).Select(i =>
        {
            var (context, goal) = fields?.Invoke(i) ?? ($"context {i}", $"goal {i}");
            return (UserUid(i), context, goal);
        }));

    public static string UserUid(int i) => $"user-{i:D6}";
}
