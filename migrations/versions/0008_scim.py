"""SCIM 2.0 provisioning: tokens (hashed, routed by a platform table), SCIM users, groups and memberships;
users gain `deactivated_at`, and an empty email (a SCIM user whose identity provider sent none) no longer
collides with another empty one.

The downgrade refuses (RuntimeError, nothing changed) while any user is deactivated (dropping
`deactivated_at` would let deprovisioned users sign in again) or two users of an account share the
empty email (the old unique constraint cannot be re-created): delete those users, or give them an
email, first.

Revision ID: 0008_scim
Revises: 0007_cost_anomalies
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import platform_table_sql, tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0008_scim"
down_revision: str | None = "0007_cost_anomalies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    role = get_settings().app_db_role
    op.add_column("users", sa.Column("deactivated_at", TS, nullable=True))
    # Emails stay unique per account, except the empty one a SCIM user without any email gets
    # (it shows in the directory quality report's missingEmails).
    op.drop_constraint("uq_users_email", "users", type_="unique")
    op.create_index(
        "uq_users_email", "users", ["account_id", "email"], unique=True, postgresql_where=sa.text("email <> ''")
    )

    op.create_table(
        "scim_tokens",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_prefix", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_scim_tokens_time", "scim_tokens", ["account_id", "created_at", "id"])
    op.create_table(
        "scim_token_routes",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("token_id", UUID, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
    )
    op.create_table(
        "scim_users",
        sa.Column("account_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("document", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.Column("deleted_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )
    # userName is unique per account, case-insensitively, among the users SCIM still serves.
    op.create_index(
        "uq_scim_users_user_name",
        "scim_users",
        ["account_id", sa.text("lower(user_name)")],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "scim_groups",
        sa.Column("account_id", UUID, primary_key=True),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("team_id", UUID, nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        # A team deleted through the API leaves its groups unmapped (their members go to Global on the next sync).
        sa.ForeignKeyConstraint(
            ["account_id", "team_id"], ["teams.account_id", "teams.id"], ondelete="SET NULL (team_id)"
        ),
    )
    op.create_index(
        "uq_scim_groups_display_name", "scim_groups", ["account_id", sa.text("lower(display_name)")], unique=True
    )
    op.create_index("ix_scim_groups_team", "scim_groups", ["account_id", "team_id"])
    op.create_table(
        "scim_group_members",
        sa.Column("account_id", UUID, primary_key=True),
        sa.Column("group_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("joined_at", TS, nullable=False, server_default=NOW),
        sa.Column("display", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id", "group_id"], ["scim_groups.account_id", "scim_groups.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_scim_group_members_user", "scim_group_members", ["account_id", "user_id", "joined_at"])

    for statement in (
        tenant_table_sql("scim_tokens", role, "SELECT, INSERT, UPDATE")
        + platform_table_sql("scim_token_routes", role, "SELECT, INSERT, DELETE")
        + tenant_table_sql("scim_users", role)
        + tenant_table_sql("scim_groups", role)
        + tenant_table_sql("scim_group_members", role)
    ):
        op.execute(statement)


DOWNGRADE_BLOCKERS = sa.text(
    """
    SELECT (SELECT count(*) FROM users WHERE deactivated_at IS NOT NULL) AS deactivated,
           (SELECT count(*) FROM (SELECT account_id FROM users WHERE email = ''
                                  GROUP BY account_id HAVING count(*) > 1) AS shared) AS accounts_sharing_empty_email
    """
)


def refuse_unsafe_downgrade(connection: sa.engine.Connection) -> None:
    """Raise, before anything changes, when downgrading would lose a deactivation or cannot restore the
    email constraint. `users` FORCEs row-level security, which would hide every row from an owner that is
    not superuser: lifted for this one read, inside the migration's transaction."""
    connection.execute(sa.text("ALTER TABLE users NO FORCE ROW LEVEL SECURITY"))
    deactivated, sharing = connection.execute(DOWNGRADE_BLOCKERS).one()
    connection.execute(sa.text("ALTER TABLE users FORCE ROW LEVEL SECURITY"))
    problems = []
    if deactivated:
        problems.append(f"{deactivated} deactivated user(s): without `deactivated_at` they could sign in again")
    if sharing:
        problems.append(f"{sharing} account(s) with several users without email: `uq_users_email` cannot be re-created")
    if problems:
        raise RuntimeError(
            "Refusing to downgrade 0008_scim: "
            + "; ".join(problems)
            + ". Delete those users (or give them an email) first."
        )


def downgrade() -> None:
    refuse_unsafe_downgrade(op.get_bind())
    for table in ("scim_group_members", "scim_groups", "scim_users", "scim_token_routes", "scim_tokens"):
        op.drop_table(table)
    op.drop_index("uq_users_email", table_name="users")
    op.create_unique_constraint("uq_users_email", "users", ["account_id", "email"])
    op.drop_column("users", "deactivated_at")
