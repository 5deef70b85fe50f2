using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Webhooks.Persistence.Migrations
{
    /// <summary>
    /// Subscriptions that act on answers: <c>json_path</c>, an SQL/JSON path predicate their <c>crew-response.*</c>
    /// deliveries must match, and <c>include_answer</c>, whether those carry the answer itself. Existing subscriptions
    /// keep getting every answer event, without the answer. Two functions keep the filter silent inside the enqueue's
    /// one statement, so that no answer can fail a batch: <c>answer_json</c> reads an event's answer text as jsonb (null
    /// when PostgreSQL cannot), <c>answer_matches</c> evaluates a path on it as <c>@@</c> does, and answers false where
    /// the path errors. Written by hand; both columns are in the EF model, the functions are not.
    /// </summary>
    public partial class AnswerFilters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "json_path",
                schema: "webhooks",
                table: "subscriptions",
                type: "character varying(2000)",
                maxLength: 2000,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "include_answer",
                schema: "webhooks",
                table: "subscriptions",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            // EXCEPTION WHEN OTHERS catches every error but a cancel (statement_timeout included), which still stops the statement.
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION webhooks.answer_json(answer text) RETURNS jsonb
                    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
                BEGIN
                    RETURN answer::jsonb;
                EXCEPTION WHEN OTHERS THEN
                    RETURN NULL;
                END $$;
                """);
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION webhooks.answer_matches(answer jsonb, path text) RETURNS boolean
                    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
                BEGIN
                    RETURN coalesce(answer @@ path::jsonpath, false);
                EXCEPTION WHEN OTHERS THEN
                    RETURN false;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS webhooks.answer_matches(jsonb, text);");
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS webhooks.answer_json(text);");

            migrationBuilder.DropColumn(
                name: "include_answer",
                schema: "webhooks",
                table: "subscriptions");

            migrationBuilder.DropColumn(
                name: "json_path",
                schema: "webhooks",
                table: "subscriptions");
        }
    }
}
