using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.Scheduler.Persistence;

/// <summary>The scheduler's own tables, in schema <c>scheduler</c> of the shared database.</summary>
public sealed class SchedulerDbContext(DbContextOptions<SchedulerDbContext> options) : DbContext(options)
{
    public const string Schema = "scheduler";

    public DbSet<ScheduleState> Schedule => Set<ScheduleState>();
    public DbSet<Run> Runs => Set<Run>();
    public DbSet<RunUser> RunUsers => Set<RunUser>();

    // Names are snake_case by convention (UsePlatformPostgres). Keys, indexes and the foreign key keep the names the
    // first migrations gave them (EF's upper-case defaults), so the convention changes nothing in existing databases.
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);

        modelBuilder.Entity<ScheduleState>(schedule =>
        {
            // Id 1 (the default schedule) is inserted explicitly; the schedules an operator adds take 2, 3 ...
            schedule.ToTable("schedule");
            schedule.HasKey(s => s.Id).HasName("PK_schedule");
            schedule.Property(s => s.Id).UseIdentityByDefaultColumn().HasIdentityOptions(startValue: 2);
            schedule.Property(s => s.Name).HasMaxLength(64).HasDefaultValue(ScheduleState.DefaultName);
            schedule.HasIndex(s => s.Name).IsUnique();
            schedule.Property(s => s.Segment).HasMaxLength(64).HasDefaultValue(SegmentDefinition.All);
            schedule.Property(s => s.Endpoint).HasMaxLength(40).HasDefaultValue(Contracts.CrewEndpointNames.Default);
            schedule.Property(s => s.Priority).HasMaxLength(16).HasDefaultValue(Contracts.CrewPriority.Normal);
            schedule.Property(s => s.Overlap).HasMaxLength(16);
            schedule.Property(s => s.PauseNote).HasMaxLength(ScheduleState.MaxPauseNoteLength);
            schedule.Property(s => s.PausedBy).HasMaxLength(ServiceDefaults.CrewActor.MaxLength);
            schedule.Property(s => s.Cron).HasMaxLength(120);
            schedule.Property(s => s.TimeZone).HasMaxLength(64);
            schedule.Property(s => s.CatchUp).HasMaxLength(8).HasDefaultValue(CatchUpPolicy.One);
        });

        modelBuilder.Entity<Run>(run =>
        {
            run.ToTable("runs");
            run.HasKey(r => r.Id).HasName("PK_runs");
            run.Property(r => r.Trigger).HasMaxLength(16);
            run.Property(r => r.Status).HasMaxLength(16);
            run.HasIndex(r => r.StartedAt).IsDescending().HasDatabaseName("IX_runs_started_at");

            // The overlap check asks "is any run still going?" on every due time.
            run.HasIndex(r => r.Status).HasFilter($"status = '{RunStatus.Running}'").HasDatabaseName("IX_runs_status");
            run.Property(r => r.FanOutAfterUid).HasMaxLength(255);
            run.Property(r => r.Segment).HasMaxLength(64);
            run.Property(r => r.Endpoint).HasMaxLength(40).HasDefaultValue(Contracts.CrewEndpointNames.Default);
            run.Property(r => r.Priority).HasMaxLength(16).HasDefaultValue(Contracts.CrewPriority.Normal);
            // Also the spend of a schedule today and this month: a range of the index, read without the table (spent is included).
            run.HasIndex(r => new { r.ScheduleId, r.StartedAt }).IsDescending(false, true).IncludeProperties(r => r.Spent);
            run.Property(r => r.SkipReason).HasMaxLength(16);

            // The reconciler asks "which completions were never announced?" on every pass.
            run.HasIndex(r => r.CompletedAt)
                .HasFilter($"status IN ('{RunStatus.Completed}', '{RunStatus.Cancelled}') AND completion_published_at IS NULL")
                .HasDatabaseName("IX_runs_completed_at");
        });

        modelBuilder.Entity<RunUser>(user =>
        {
            user.ToTable("run_users");
            user.HasKey(u => new { u.RunId, u.UserUid }).HasName("PK_run_users");
            user.Property(u => u.UserUid).HasMaxLength(255);
            user.Property(u => u.Status).HasMaxLength(16);
            user.HasIndex(u => new { u.RunId, u.Status }).HasDatabaseName("IX_run_users_run_id_status");
            user.Property(u => u.Endpoint).HasMaxLength(40);

            // A skipUnchanged run's page asks, for each of its users, for their latest answer on the run's endpoint.
            user.HasIndex(u => new { u.UserUid, u.Endpoint, u.AnswerStoredAt }).IsDescending(false, false, true)
                .IncludeProperties(u => u.InputDigest)
                .HasFilter("answer_stored_at IS NOT NULL")
                .HasDatabaseName("IX_run_users_latest_answer");
            user.HasOne<Run>().WithMany().HasForeignKey(u => u.RunId).OnDelete(DeleteBehavior.Cascade)
                .HasConstraintName("FK_run_users_runs_run_id");
        });
    }
}
