using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ApprovalStudio.Web.Infrastructure.Persistence.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class IdempotencyKeyRun : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ExecutionId",
                table: "IdempotencyKeys",
                type: "TEXT",
                maxLength: 200,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ExecutionId",
                table: "IdempotencyKeys");
        }
    }
}
