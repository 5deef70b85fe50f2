using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>CrewCaller's own tables, in schema <c>crew_caller</c> of the shared database. Used for migrations; the hot path is plain SQL in <see cref="CrewCallLedger"/>.</summary>
public sealed class CrewCallerDbContext(DbContextOptions<CrewCallerDbContext> options) : DbContext(options)
{
    public const string Schema = "crew_caller";

    public DbSet<CrewCall> CrewCalls => Set<CrewCall>();

    public DbSet<SpendScope> SpendScopes => Set<SpendScope>();

    public DbSet<CancelledRun> CancelledRuns => Set<CancelledRun>();

    public DbSet<EndpointPace> EndpointPaces => Set<EndpointPace>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.Entity<CrewCall>(call =>
        {
            call.ToTable("crew_calls", t => t.HasCheckConstraint(
                "ck_crew_calls_status",
                $"status IN ('{CrewCallStatus.Calling}', '{CrewCallStatus.Succeeded}', '{CrewCallStatus.Failed}', '{CrewCallStatus.Skipped}')"));
            call.HasKey(c => new { c.RunId, c.UserUid }).HasName("pk_crew_calls");
            call.Property(c => c.RunId).HasColumnName("run_id");
            call.Property(c => c.UserUid).HasColumnName("user_uid").HasMaxLength(255);
            call.Property(c => c.Status).HasColumnName("status").HasMaxLength(16);
            call.Property(c => c.Attempts).HasColumnName("attempts");
            call.Property(c => c.LastError).HasColumnName("last_error");
            call.Property(c => c.LastStatusCode).HasColumnName("last_status_code");
            call.Property(c => c.ClaimedBy).HasColumnName("claimed_by").HasMaxLength(128);
            call.Property(c => c.LeaseExpiresAt).HasColumnName("lease_expires_at");
            call.Property(c => c.StartedAt).HasColumnName("started_at");
            call.Property(c => c.FinishedAt).HasColumnName("finished_at");
            call.Property(c => c.DurationMs).HasColumnName("duration_ms");
            call.Property(c => c.ResponseJson).HasColumnName("response_json");
            call.Property(c => c.Endpoint).HasColumnName("endpoint").HasMaxLength(64);
            call.Property(c => c.Cost).HasColumnName("cost").HasColumnType("numeric");
            call.Property(c => c.ReservedCost).HasColumnName("reserved_cost").HasColumnType("numeric");
            call.Property(c => c.DayScope).HasColumnName("day_scope");

            // Operators look for what failed in a run.
            call.HasIndex(c => new { c.RunId, c.Status }).HasDatabaseName("ix_crew_calls_run_id_status");

            // A budget's expected cost: the endpoint's latest priced calls.
            call.HasIndex(c => new { c.Endpoint, c.FinishedAt }).HasDatabaseName("ix_crew_calls_endpoint_finished_at").HasFilter("cost IS NOT NULL");
        });

        modelBuilder.Entity<SpendScope>(scope =>
        {
            scope.ToTable("spend_scopes");
            scope.HasKey(s => s.Scope).HasName("pk_spend_scopes");
            scope.Property(s => s.Scope).HasColumnName("scope");
            scope.Property(s => s.Calls).HasColumnName("calls");
            scope.Property(s => s.Reserved).HasColumnName("reserved").HasColumnType("numeric");
            scope.Property(s => s.Spent).HasColumnName("spent").HasColumnType("numeric");
        });

        modelBuilder.Entity<CancelledRun>(run =>
        {
            run.ToTable("cancelled_runs");
            run.HasKey(r => r.RunId).HasName("pk_cancelled_runs");
            run.Property(r => r.RunId).HasColumnName("run_id");
            run.Property(r => r.CancelledAt).HasColumnName("cancelled_at");
        });

        modelBuilder.Entity<EndpointPace>(pace =>
        {
            pace.ToTable("endpoint_pace");
            pace.HasKey(p => p.Endpoint).HasName("pk_endpoint_pace");
            pace.Property(p => p.Endpoint).HasColumnName("endpoint");
            pace.Property(p => p.NextStartAt).HasColumnName("next_start_at");
            pace.Property(p => p.PausedUntil).HasColumnName("paused_until");
        });
    }
}
