using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>CrewCaller's own tables, in schema <c>crew_caller</c> of the shared database. Used for migrations; the hot path is plain SQL in <see cref="CrewCallLedger"/>.</summary>
public sealed class CrewCallerDbContext(DbContextOptions<CrewCallerDbContext> options) : DbContext(options)
{
    public const string Schema = "crew_caller";

    public DbSet<CrewCall> CrewCalls => Set<CrewCall>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.Entity<CrewCall>(call =>
        {
            call.ToTable("crew_calls", t => t.HasCheckConstraint(
                "ck_crew_calls_status",
                $"status IN ('{CrewCallStatus.Calling}', '{CrewCallStatus.Succeeded}', '{CrewCallStatus.Failed}')"));
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

            // Operators look for what failed in a run.
            call.HasIndex(c => new { c.RunId, c.Status }).HasDatabaseName("ix_crew_calls_run_id_status");
        });
    }
}
