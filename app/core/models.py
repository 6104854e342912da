"""SQLModel tables: users, groups and personal SMTP preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from app.core.secrets import EncryptedText


class User(SQLModel, table=True):
    """An operating-system login known to mailsiren."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)
    email: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    email_hash: str | None = Field(default=None, index=True, max_length=64)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Group(SQLModel, table=True):
    """A named group of users; the shared SMTP configuration's Allowed-Group names these."""

    __tablename__ = "user_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)


class GroupMembership(SQLModel, table=True):
    __tablename__ = "group_membership"
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    group_id: int = Field(foreign_key="user_group.id", primary_key=True, ondelete="CASCADE")


class SmtpPreference(SQLModel, table=True):
    """A user's own SMTP server settings; secrets are encrypted columns."""

    __tablename__ = "smtp_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    server: str = Field(max_length=253)
    port: int
    tls_mode: str = Field(max_length=16)
    skip_certificate_verification: bool = False
    username: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    password: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    from_address: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
