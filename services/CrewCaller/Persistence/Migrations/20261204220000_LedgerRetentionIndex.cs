using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.CrewCaller.Persistence.Migrations
{
    /// <summary>
    /// <c>ix_crew_calls_finished_at</c>: the ledger's finished rows by when their outcome was recorded, so the run-history
    /// retention pass reads its oldest rows first without scanning the ledger. Written by hand and left out of the EF model
    /// (only the retention pass reads it). Built with CREATE INDEX CONCURRENTLY, which does not block the ledger's writers
    /// but cannot run inside a transaction (<c>suppressTransaction</c>); a build that failed half-way leaves an INVALID
    /// index, which the next start drops and builds again.
    /// </summary>
    [DbContext(typeof(CrewCallerDbContext))]
    [Migration("20261204220000_LedgerRetentionIndex")]
    public partial class LedgerRetentionIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DO $$ BEGIN
                    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                               WHERE c.relname = 'ix_crew_calls_finished_at' AND c.relnamespace = 'crew_caller'::regnamespace AND NOT i.indisvalid) THEN
                        DROP INDEX crew_caller.ix_crew_calls_finished_at;
                    END IF;
                END $$;
                """, suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_crew_calls_finished_at ON crew_caller.crew_calls (finished_at) WHERE status <> 'calling';",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX IF EXISTS crew_caller.ix_crew_calls_finished_at;");
        }
    }
}
