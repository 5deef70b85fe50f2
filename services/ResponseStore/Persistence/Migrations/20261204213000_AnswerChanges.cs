using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.ResponseStore.Persistence.Migrations
{
    /// <summary>
    /// What changed since the user's previous answer: <c>endpoint</c> (the crew endpoint that answered; null for answers
    /// posted through the REST API), <c>previous_response_id</c> (the user's latest answer on the same endpoint when
    /// this one was stored) and <c>changed</c> (jsonb equality with it; null for the first), all three nullable and
    /// filled by the writers as they insert; and the index that finds "the latest answer of user U on endpoint E".
    /// Written by hand, like the content-search migration.
    /// <para>
    /// What it costs on a big table: adding nullable columns without a default only changes the catalog. The existing
    /// answers of runs get their endpoint from <c>response_store.run_origins</c> (no origin: <c>default</c>) in one
    /// UPDATE, which writes a new version of every such row while the migration runs (reads go on; writers of the same
    /// rows wait); run it at a quiet time. Their <c>previous_response_id</c> and <c>changed</c> stay null: an answer
    /// stored before this version has no previous one, and the first one stored after it compares with the latest before.
    /// The index is built with CREATE INDEX CONCURRENTLY outside the migration's transaction (<c>suppressTransaction</c>),
    /// so writers are not blocked; a failed build leaves an INVALID index, which the next start drops and builds again.
    /// </para>
    /// </summary>
    public partial class AnswerChanges : Migration
    {
        private const string Index = ResponseStoreDbContext.LatestPerEndpointIndex;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE public.crew_responses
                    ADD COLUMN IF NOT EXISTS endpoint character varying(40),
                    ADD COLUMN IF NOT EXISTS previous_response_id integer,
                    ADD COLUMN IF NOT EXISTS changed boolean;
                """);

            migrationBuilder.Sql("""
                UPDATE public.crew_responses c
                SET endpoint = coalesce((SELECT o.endpoint FROM response_store.run_origins o WHERE o.run_id = c.run_id), 'default')
                WHERE c.run_id IS NOT NULL AND c.endpoint IS NULL;
                """);

            migrationBuilder.Sql($"""
                DO $$ BEGIN
                    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                               WHERE c.relname = '{Index}' AND c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid) THEN
                        DROP INDEX public.{Index};
                    END IF;
                END $$;
                """, suppressTransaction: true);
            migrationBuilder.Sql(
                $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {Index} ON public.crew_responses (user_uid, endpoint, created_at DESC, id DESC);",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"DROP INDEX IF EXISTS public.{Index};");
            migrationBuilder.Sql("""
                ALTER TABLE public.crew_responses
                    DROP COLUMN IF EXISTS changed,
                    DROP COLUMN IF EXISTS previous_response_id,
                    DROP COLUMN IF EXISTS endpoint;
                """);
        }
    }
}
